import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import {
  isReadOnlyConfig,
  READ_ONLY_MARKER,
  readOnlyConfig,
} from "../../src/registry/maintenance.js";

const IMAGE_CONFIG = `version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: :5000
`;

describe("registry read-only config", () => {
  it("turns storage.maintenance.readonly on and keeps every other setting", () => {
    const text = readOnlyConfig(IMAGE_CONFIG);
    assert.ok(text.startsWith(`${READ_ONLY_MARKER}\n`));
    assert.ok(isReadOnlyConfig(text));
    assert.equal(isReadOnlyConfig(IMAGE_CONFIG), false);
    const config = parse(text) as {
      storage: Record<string, Record<string, unknown>>;
      http: { addr: string };
    };
    assert.deepEqual(config.storage.maintenance, {
      uploadpurging: { enabled: false },
      readonly: { enabled: true },
    });
    assert.deepEqual(config.storage.cache, { blobdescriptor: "inmemory" });
    assert.equal(config.http.addr, ":5000");
  });

  it("refuses a config that is not YAML, saying which file", () => {
    assert.throws(() => readOnlyConfig("storage: [unclosed"), /config\.yml is not valid YAML/);
  });
});
