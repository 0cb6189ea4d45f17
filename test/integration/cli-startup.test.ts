/**
 * `ksail --help` and `--version` stay lean: the modules the bundle loads at start-up (dist/cli.js
 * and what it imports statically) hold neither the Kubernetes client nor the Docker client;
 * commands load those with `await import()` only when they run.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runKsail } from "../../lab/ksail.js";

const dist = fileURLToPath(new URL("../../dist/", import.meta.url));

/** Every file reached from `entry` through static `import … from "./…"` statements. */
function staticGraph(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    const statements = /^(?:import|export)\s+(?:[^;"']*?\sfrom\s+)?["'](\.[^"']+)["']/gms;
    for (const [, specifier] of text.matchAll(statements)) {
      visit(join(dirname(file), specifier!));
    }
  };
  visit(entry);
  return seen;
}

describe("CLI start-up", () => {
  it("loads neither @kubernetes/client-node nor dockerode for --help", () => {
    const entry = join(dist, "cli.js");
    assert.ok(existsSync(entry), "run `npm run build` first (npm test does)");
    const graph = staticGraph(entry);
    const all = readdirChunks();
    // The check can fail: the clients are in the bundle, just not in the start-up graph.
    assert.ok(
      all.some((f) => /node_modules\/@kubernetes\/client-node\//.test(readFileSync(f, "utf8"))),
    );
    for (const file of graph) {
      const text = readFileSync(file, "utf8");
      assert.doesNotMatch(
        text,
        /node_modules\/@kubernetes\/client-node\//,
        `${file} holds the Kubernetes client`,
      );
      assert.doesNotMatch(
        text,
        /from "dockerode"|require\("dockerode"\)/,
        `${file} loads dockerode`,
      );
    }
  });

  it("`ksail version` and `ksail completion` load neither client either", () => {
    for (const name of ["version", "completion"]) {
      const chunk = readdirSync(join(dist, "chunks")).find((f) =>
        new RegExp(`^${name}-[A-Z0-9]+\\.js$`).test(f),
      );
      assert.ok(chunk, `no dist/chunks/${name}-*.js: run \`npm run build\``);
      for (const file of staticGraph(join(dist, "chunks", chunk))) {
        const text = readFileSync(file, "utf8");
        assert.doesNotMatch(text, /node_modules\/@kubernetes\/client-node\//, `${name}: ${file}`);
        assert.doesNotMatch(text, /from "dockerode"|require\("dockerode"\)/, `${name}: ${file}`);
      }
    }
  });

  it("`ksail workload push` loads no config schema, signing crypto, TLS or semver ranges it does not use", () => {
    const chunk = readdirSync(join(dist, "chunks")).find((f) => /^push-[A-Z0-9]+\.js$/.test(f));
    assert.ok(chunk, "no dist/chunks/push-*.js: run `npm run build`");
    const graph = new Set([
      ...staticGraph(join(dist, "cli.js")),
      ...staticGraph(join(dist, "chunks", chunk)),
    ]);
    for (const file of graph) {
      const text = readFileSync(file, "utf8");
      // zod parses a ksail.yaml (none here), the signing code signs (no key given).
      for (const unused of [
        /node_modules\/zod\//,
        /node_modules\/tweetnacl\//,
        /^\/\/ src\/sign\//m,
        /node_modules\/semver\/classes\/range\.js/,
      ]) {
        assert.doesNotMatch(text, unused, file);
      }
      assert.doesNotMatch(text, /from "node:https"/, file);
    }
    // The check can fail: they are in the bundle, loaded on demand.
    const all = readdirChunks().map((f) => readFileSync(f, "utf8"));
    assert.ok(all.some((t) => /node_modules\/zod\//.test(t)));
    assert.ok(all.some((t) => /node_modules\/tweetnacl\//.test(t)));
  });

  it("--help and --version answer with exit 0", async () => {
    const help = await runKsail(["--help"], { cwd: dist });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: ksail/);
    for (const command of ["init", "workload", "flux", "registry", "cluster", "up", "down"]) {
      assert.match(help.stdout, new RegExp(`^  ${command}\\b`, "m"), command);
    }
    const version = await runKsail(["--version"], { cwd: dist });
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});

function readdirChunks(): string[] {
  const dir = join(dist, "chunks");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".js"))
    .map((f) => join(dir, f));
}
