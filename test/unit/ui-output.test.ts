/**
 * The terminal reporter: what a step writes piped and on a terminal (live line, redraws, lines
 * printed around it), -q, -o json|yaml, and when colour is on.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { colorEnabled, paintMark } from "../../src/ui/color.js";
import { Output } from "../../src/ui/output.js";

function sink(): Writable & { text: string } {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      stream.text += chunk.toString();
      done();
    },
  }) as Writable & { text: string };
  stream.text = "";
  return stream;
}

/** A clock the test moves by hand. */
function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const CLEAR = "\r\x1b[2K";

describe("Output steps", () => {
  it("piped: a start line and an end line per step, nested and failing ones too", async () => {
    const stderr = sink();
    const time = clock();
    const out = new Output({ stderr, stdout: sink(), now: time.now });
    await out.step(
      "Push",
      async () => {
        await out.step(
          "Upload blobs",
          async () => time.advance(250),
          () => "Uploaded 2 blobs",
        );
        out.info("  retrying (2) in 80ms");
        time.advance(1500);
      },
      () => "Pushed 0.0.1",
    );
    await assert.rejects(
      out.step("Tag version", async () => {
        time.advance(10);
        throw new Error("refused");
      }),
    );
    assert.equal(
      stderr.text,
      [
        "► Push",
        "► Upload blobs",
        "✓ Uploaded 2 blobs (250ms)",
        "  retrying (2) in 80ms",
        "✓ Pushed 0.0.1 (1.8s)",
        "► Tag version",
        "✗ Tag version (10ms)",
        "",
      ].join("\n"),
    );
  });

  it("terminal: one live line, redrawn with the time waited, lines printed around it", async () => {
    const stderr = Object.assign(sink(), { isTTY: true, columns: 60 });
    const time = clock();
    const out = new Output({ stderr, stdout: sink(), now: time.now, live: true, tickMs: 5 });
    await out.step("List versions of 127.0.0.1:5000/app", async () => {
      time.advance(2000);
      await new Promise((resolve) => setTimeout(resolve, 30)); // a few ticks of the redraw timer
      out.warn("slow registry");
    });
    const text = stderr.text;
    assert.ok(text.startsWith(`◎ List versions of 127.0.0.1:5000/app…${CLEAR}`), text);
    assert.ok(text.includes(`${CLEAR}◎ List versions of 127.0.0.1:5000/app… 2.0s`), text);
    // The warning clears the live line, prints, and the live line comes back.
    assert.ok(text.includes(`${CLEAR}warning: slow registry\n◎ List versions`), text);
    // Without a summary the label is said in the past tense.
    assert.ok(text.endsWith(`${CLEAR}✓ Listed versions of 127.0.0.1:5000/app (2.0s)\n`), text);
  });

  it("terminal: a live line never wraps (kept within the terminal's width)", async () => {
    const stderr = Object.assign(sink(), { isTTY: true, columns: 30 });
    const out = new Output({ stderr, stdout: sink(), live: true });
    await out.step("x".repeat(100), async () => {});
    const live = stderr.text.split(CLEAR)[0]!;
    assert.ok(live.length <= 29, live);
  });

  it("-q shows no progress, but warnings and errors", async () => {
    const stderr = Object.assign(sink(), { isTTY: true });
    const out = new Output({ stderr, stdout: sink(), quiet: true, live: true });
    await out.step("Push", async () => out.warn("careful"));
    out.info("hidden");
    out.error("error: shown");
    assert.equal(stderr.text, "warning: careful\nerror: shown\n");
  });

  it("colours only the leading mark", () => {
    assert.equal(paintMark("✓ done (1ms)", true), "\x1b[32m✓ \x1b[0mdone (1ms)");
    assert.equal(paintMark("error: bad", true), "\x1b[31merror:\x1b[0m bad");
    assert.equal(paintMark("plain ✓ line", true), "plain ✓ line");
    assert.equal(paintMark("✓ done", false), "✓ done");
  });
});

describe("colour", () => {
  it("is on for a terminal, off when piped, off with NO_COLOR of any value", () => {
    assert.equal(colorEnabled({}, true), true);
    assert.equal(colorEnabled({}, false), false);
    assert.equal(colorEnabled({ NO_COLOR: "" }, true), false);
    assert.equal(colorEnabled({ NO_COLOR: "1" }, true), false);
    assert.equal(colorEnabled({ TERM: "dumb" }, true), false);
  });

  it("FORCE_COLOR turns it on when piped, FORCE_COLOR=0 off; NO_COLOR wins", () => {
    assert.equal(colorEnabled({ FORCE_COLOR: "1" }, false), true);
    assert.equal(colorEnabled({ FORCE_COLOR: "0" }, true), false);
    assert.equal(colorEnabled({ FORCE_COLOR: "1", NO_COLOR: "1" }, false), false);
  });
});

describe("Output data", () => {
  it("lists as {items} in JSON and YAML, records as JSON lines or YAML documents", () => {
    for (const format of ["json", "yaml"] as const) {
      const stdout = sink();
      const out = new Output({ format, stdout, stderr: sink() });
      out.list([{ version: "0.0.1", latest: true }], () => "table");
      const parsed = format === "json" ? JSON.parse(stdout.text) : parseYaml(stdout.text);
      assert.deepEqual(parsed, { items: [{ version: "0.0.1", latest: true }] });
    }
    const lines = sink();
    const json = new Output({ format: "json", stdout: lines, stderr: sink() });
    json.record({ n: 1 });
    json.record({ n: 2 });
    assert.equal(lines.text, '{"n":1}\n{"n":2}\n');
    const docs = sink();
    const yaml = new Output({ format: "yaml", stdout: docs, stderr: sink() });
    yaml.record({ n: 1 });
    yaml.record({ n: 2 });
    assert.equal(docs.text, "---\nn: 1\n---\nn: 2\n");
    const human = sink();
    new Output({ stdout: human, stderr: sink() }).record({ n: 1 });
    assert.equal(human.text, "");
  });
});
