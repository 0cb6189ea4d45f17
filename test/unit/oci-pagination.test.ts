import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseLinkNext } from "../../src/oci/pagination.js";

describe("parseLinkNext", () => {
  it("finds rel=next among links, relative or absolute", () => {
    assert.equal(parseLinkNext('</v2/_catalog?last=b&n=2>; rel="next"'), "/v2/_catalog?last=b&n=2");
    assert.equal(
      parseLinkNext(
        '<https://r/v2/x/tags/list?n=1&last=a>; rel="prev", <https://r/v2/x/tags/list?n=1&last=c>; rel=next',
      ),
      "https://r/v2/x/tags/list?n=1&last=c",
    );
    assert.equal(parseLinkNext('</a>; rel="first next"'), "/a");
    assert.equal(parseLinkNext('</a>; rel="nextish"'), undefined);
    assert.equal(parseLinkNext(undefined), undefined);
  });
});
