/**
 * Issue 9: ksail's validation agrees with Flux's build. Every tree of the corpus
 * (lab/flux-corpus.ts) is validated by validateSource — exactly what `workload push` runs on
 * the files it packages — and built by the Flux CLI from those same files. Accept vs refuse must
 * match, except the documented ALLOWLIST (ksail deliberately stricter) and the ksail-only cases
 * (alias bombs: Flux would exhaust the machine's memory).
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { listSourceFiles } from "../../src/artifact/source-files.js";
import { validateSource, type ValidationIssue } from "../../src/validate/manifests.js";
import { ALLOWLIST, CORPUS, materializeTree, type CorpusTree } from "../../lab/flux-corpus.js";
import { fluxBinary, fluxBuild } from "../../lab/flux-build.js";

const temps: string[] = [];
after(async () => Promise.all(temps.map((t) => rm(t, { recursive: true, force: true }))));

const format = (issues: ValidationIssue[]) =>
  issues
    .map((i) => `  ${i.file}${i.line ? `:${i.line}` : ""}: [${i.rule}] ${i.message}`)
    .join("\n");

interface Verdicts {
  ksail: ValidationIssue[];
  warnings: ValidationIssue[];
  flux?: { ok: boolean; output: string };
}

async function judge(tree: CorpusTree, flux: string | undefined): Promise<Verdicts> {
  const work = await mkdtemp(join(tmpdir(), `ksail-diff-${tree.name}-`));
  temps.push(work);
  const src = join(work, "src");
  await materializeTree(tree, src);
  const { files } = await listSourceFiles(src);
  const warnings: ValidationIssue[] = [];
  const ksail = await validateSource(src, files, { warnings });
  if (flux === undefined) return { ksail, warnings };
  // Flux builds the artifact: exactly the files ksail packages.
  const artifact = join(work, "artifact");
  await mkdir(artifact, { recursive: true });
  for (const file of files) {
    const target = join(artifact, ...file.path.split("/"));
    await mkdir(dirname(target), { recursive: true });
    await copyFile(file.absolutePath, target);
  }
  return { ksail, warnings, flux: await fluxBuild(flux, artifact, work) };
}

describe("validation agrees with Flux's build (lab/flux-corpus.ts)", { concurrency: 2 }, () => {
  let flux = "";
  before(() => {
    flux = fluxBinary();
  });

  it("has at least 100 trees, each name once, each allowlist key documented", () => {
    assert.ok(CORPUS.length >= 100, `only ${CORPUS.length} trees`);
    assert.equal(new Set(CORPUS.map((t) => t.name)).size, CORPUS.length);
    for (const tree of CORPUS) if (tree.allow) assert.ok(tree.allow in ALLOWLIST, tree.name);
  });

  for (const tree of CORPUS) {
    it(tree.name, async () => {
      if (tree.ksailOnly !== undefined) {
        const { ksail } = await judge(tree, undefined);
        assert.equal(
          ksail.length === 0 ? "accept" : "refuse",
          tree.ksailOnly,
          `${tree.name}: ksail-only case, expected ${tree.ksailOnly}\n${format(ksail)}`,
        );
        return;
      }
      const { ksail, flux: built } = await judge(tree, flux);
      const ksailAccepts = ksail.length === 0;
      const fluxAccepts = built!.ok;
      const detail = `ksail ${ksailAccepts ? "accepts" : "refuses"}:\n${format(ksail)}\nflux build ${fluxAccepts ? "succeeds" : "fails"}:\n${fluxAccepts ? "" : built!.output.trim()}`;
      const allowed = tree.allow === undefined ? undefined : ALLOWLIST[tree.allow];
      if (allowed !== undefined) {
        // An allowlisted difference must still be one (else the entry is stale).
        assert.equal(
          ksailAccepts ? "accepts" : "refuses",
          allowed.ksail,
          `${tree.name}: ${detail}`,
        );
        assert.equal(
          fluxAccepts,
          !ksailAccepts,
          `${tree.name}: allowlisted (${tree.allow}) but ${detail}`,
        );
        if (allowed.rule !== undefined)
          assert.ok(
            ksail.some((i) => i.rule === allowed.rule),
            `${tree.name}: refused for another reason than ${allowed.rule}\n${detail}`,
          );
        return;
      }
      assert.equal(ksailAccepts, fluxAccepts, `${tree.name}: ${detail}`);
    });
  }
});
