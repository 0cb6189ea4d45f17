// `npm run demo`: ksail's main job on a machine without a cluster. Starts a real distribution
// registry on 127.0.0.1, creates a project, pushes two versions, lists, diffs, pulls and prunes,
// printing every command as a user would type it. Cleans up after itself.
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startRegistry } from "../test/lab/registry.js";

const bin = fileURLToPath(new URL("../bin/ksail.js", import.meta.url));
const project = await mkdtemp(join(tmpdir(), "ksail-demo-"));
const registry = await startRegistry();
const port = registry.registry.split(":")[1] as string;

function ksail(...args: string[]): number {
  process.stdout.write(`\n\x1b[1m$ ksail ${args.join(" ")}\x1b[0m\n`);
  const run = spawnSync(process.execPath, [bin, ...args], { cwd: project, stdio: "inherit" });
  return run.status ?? 1;
}

const configMap = (greeting: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  message: "${greeting}"\n`;

let failed = false;
try {
  console.log(`registry: ${registry.registry} (distribution, storage ${registry.storageDir})`);
  console.log(`project:  ${project}`);
  const steps: [() => Promise<void> | void, string[], number][] = [
    [() => {}, ["init", "--name", "demo", "--gitops-engine", "Flux", "--registry-port", port], 0],
    [
      async () => {
        await writeFile(join(project, "k8s", "greeting.yaml"), configMap("hello"));
        await writeFile(
          join(project, "k8s", "kustomization.yaml"),
          "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - greeting.yaml\n",
        );
      },
      ["workload", "push"],
      0,
    ],
    [() => {}, ["workload", "push"], 0],
    [
      () => writeFile(join(project, "k8s", "greeting.yaml"), configMap("hello, world")),
      ["workload", "diff"],
      1,
    ],
    [() => {}, ["workload", "push"], 0],
    [() => {}, ["workload", "versions"], 0],
    [() => {}, ["workload", "pull", "0.0.1", "--dest", "pulled"], 0],
    [() => {}, ["workload", "prune", "--keep", "1", "--dry-run"], 0],
    [
      () => writeFile(join(project, "k8s", "broken.yaml"), "kind: ConfigMap\nmetadata: {}\n"),
      ["workload", "push"],
      3,
    ],
  ];
  for (const [prepare, args, expected] of steps) {
    await prepare();
    const code = ksail(...args);
    if (code !== expected) {
      console.error(`\nexpected exit ${expected}, got ${code}`);
      failed = true;
      break;
    }
  }
} finally {
  await registry.stop();
  await rm(project, { recursive: true, force: true });
}
console.log(
  failed ? "\ndemo failed" : "\ndemo finished: registry stopped, temporary project removed",
);
process.exitCode = failed ? 1 : 0;
