/**
 * The set-up the cosign interoperability suites share (test/integration/sign-cosign.test.ts for
 * cosign v2, sign-cosign-v3.test.ts for v3): a private HOME for cosign, `versions` pushed
 * versions of a one-ConfigMap workload to sign, ksail's key pair (`ksail workload keygen`) and
 * cosign's (`cosign generate-key-pair`), both under one password.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RegistryClient } from "../src/oci/client.js";
import type { RepositoryRef } from "../src/oci/reference.js";
import { silentProgress } from "../src/progress.js";
import { pushWorkload } from "../src/workload/push.js";
import { generateKeyPair } from "../src/workload/sign.js";
import { runCosign, type CosignRun } from "./cosign.js";

export interface KeyFiles {
  key: string;
  pub: string;
}

export interface CosignInterop {
  /** cosign's HOME (and working directory): its keys, TUF cache and docker config live here. */
  home: string;
  /** The digests of the pushed versions, oldest first: one per test case to sign. */
  digests: string[];
  /** The key pair ksail's keygen wrote. */
  ksailKeys: KeyFiles;
  /** The key pair `cosign generate-key-pair` wrote. */
  cosignKeys: KeyFiles;
  /** Removes the HOME (the registry is the caller's). */
  cleanup(): Promise<void>;
}

/** A cosign run as an assertion message: exit code and both streams. */
export const showRun = (run: CosignRun) => `exit ${run.code}\n${run.stdout}\n${run.stderr}`;

export async function prepareCosignInterop(options: {
  cosign: string;
  client: RegistryClient;
  repository: RepositoryRef;
  password: string;
  versions: number;
}): Promise<CosignInterop> {
  const { cosign, client, repository, password } = options;
  const home = await mkdtemp(join(tmpdir(), "ksail-cosign-"));
  const source = join(home, "k8s");
  await mkdir(source);
  const digests: string[] = [];
  for (let i = 1; i <= options.versions; i++) {
    await writeFile(
      join(source, "cm.yaml"),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  n: "${i}"\n`,
    );
    const pushed = await pushWorkload(
      { client },
      { repository, sourceDir: source },
      silentProgress,
    );
    digests.push(pushed.digest);
  }
  const made = await generateKeyPair(
    { outputDir: join(home, "ksail-keys"), password },
    silentProgress,
  );
  const keygen = await runCosign(cosign, ["generate-key-pair"], { home, cwd: home, password });
  assert.equal(keygen.code, 0, showRun(keygen));
  return {
    home,
    digests,
    ksailKeys: { key: made.privateKeyPath, pub: made.publicKeyPath },
    cosignKeys: { key: join(home, "cosign.key"), pub: join(home, "cosign.pub") },
    cleanup: () => rm(home, { recursive: true, force: true }),
  };
}
