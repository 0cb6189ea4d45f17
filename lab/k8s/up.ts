/**
 * Starts the Kubernetes + Flux lab for manual use and waits until Ctrl-C.
 *
 *   node --import tsx lab/k8s/up.ts [--no-controllers] [--no-flux-crds]
 *
 * Then e.g. `KUBECONFIG=<printed path> kubectl get ocirepositories -A`.
 */
import { startKubeLab } from "./lab.js";

const args = new Set(process.argv.slice(2));
const started = performance.now();
const lab = await startKubeLab({
  controllers: !args.has("--no-controllers"),
  fluxCrds: !args.has("--no-flux-crds"),
});
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(`kube lab up in ${seconds} s`);
console.log(`  server:     ${lab.server}`);
console.log(`  kubeconfig: ${lab.kubeconfigPath}   (context ksail-lab)`);
if (lab.sourceControllerStorage) {
  console.log(`  source-controller storage: ${lab.sourceControllerStorage}`);
}
console.log(`  export KUBECONFIG=${lab.kubeconfigPath}`);
console.log("Ctrl-C stops everything and deletes the lab's temp dir.");

let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  console.log("\nstopping the kube lab…");
  void lab.stop().then(() => process.exit(0));
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
setInterval(() => undefined, 1 << 30);
