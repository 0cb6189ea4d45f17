/**
 * The secrets guard in `ksail workload watch` (issue 23): the built CLI as a process against a
 * real distribution registry. A plaintext Secret makes the cycle invalid and pushes nothing;
 * --allow-plaintext-secrets pushes it with a warning, as `workload push` does.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startRegistry, type LabRegistry } from "../../lab/registry.js";
import { startWatch } from "../../lab/watch.js";
import { RegistryClient } from "../../src/oci/client.js";

const secret = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: default\nstringData:\n  password: not-encrypted\n`;

describe("workload watch and the secrets guard (real registry)", () => {
  let lab: LabRegistry;
  let work: string;
  const client = new RegistryClient();

  before(async () => {
    lab = await startRegistry();
    work = await mkdtemp(join(tmpdir(), "ksail-watch-secrets-"));
  });
  after(async () => {
    await lab?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const watchOn = async (repository: string, ...args: string[]) => {
    const dir = join(work, repository);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "secret.yaml"), secret);
    return startWatch({
      project: work,
      args: [
        "--no-reconcile",
        "--registry",
        `oci://${lab.registry}/${repository}`,
        "--path",
        dir,
        ...args,
      ],
    });
  };

  it("refuses a plaintext Secret: the cycle is invalid, file:line named, nothing pushed", async () => {
    const watch = await watchOn("refused");
    try {
      const report = await watch.cycle(1);
      assert.equal(report.outcome, "invalid", watch.describe());
      assert.match((report.problems ?? []).join("\n"), /secret\.yaml:\d+/, watch.describe());
      const tags = await client.listTags({ registry: lab.registry, repository: "refused" });
      assert.deepEqual(tags, [], "nothing is pushed");
    } finally {
      await watch.stop();
    }
  });

  it("--allow-plaintext-secrets pushes it, with a warning", async () => {
    const watch = await watchOn("allowed", "--allow-plaintext-secrets");
    try {
      const report = await watch.cycle(1);
      assert.equal(report.outcome, "pushed", watch.describe());
      assert.match(watch.describe(), /plaintext|not SOPS-encrypted/i);
    } finally {
      await watch.stop();
    }
  });
});
