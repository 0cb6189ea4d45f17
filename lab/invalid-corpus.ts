/** The FR-017 corpus of invalid source directories (format: test/fixtures/invalid/README.md). */
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), "..", "test", "fixtures");
export const invalidDir = join(fixturesDir, "invalid");
export const validDir = join(fixturesDir, "valid");

export interface ExpectedIssue {
  file: string;
  line?: number;
  rule: string;
  message: string;
}
export interface GeneratedFile {
  path: string;
  base64?: string;
  size?: number;
  fill?: string;
}
export interface CorpusCase {
  description?: string;
  generate?: GeneratedFile[];
  issues: ExpectedIssue[];
}

export async function loadCorpus(): Promise<Record<string, CorpusCase>> {
  const parsed = JSON.parse(await readFile(join(invalidDir, "expected.json"), "utf8")) as {
    cases: Record<string, CorpusCase>;
  };
  return parsed.cases;
}

/** Steps 1–3 of test/fixtures/invalid/README.md; the caller removes the directory. */
export async function materializeCase(name: string, spec: CorpusCase): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `ksail-invalid-${name}-`));
  const source = join(invalidDir, name);
  if (existsSync(source)) await cp(source, dir, { recursive: true });
  for (const file of spec.generate ?? []) {
    const target = join(dir, file.path);
    await mkdir(dirname(target), { recursive: true });
    const data =
      file.base64 !== undefined
        ? Buffer.from(file.base64, "base64")
        : Buffer.alloc(file.size ?? 0, file.fill ?? "x");
    await writeFile(target, data);
  }
  return dir;
}
