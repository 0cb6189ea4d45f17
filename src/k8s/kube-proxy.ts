/**
 * Pods reach Services (the API server's own `kubernetes` Service included) through kube-proxy's
 * rules. A connection to a Service address made before those rules exist is not translated and
 * hangs until the client gives up — 30 s for client-go — so controllers installed into a brand-new
 * cluster can fail their first liveness probes. Where kube-proxy runs as a DaemonSet (kubeadm,
 * kind) this waits for its pods to be ready; k3s runs it inside the server process instead.
 */
import type { KubeClient, ObjectRef } from "./client.js";

const KUBE_PROXY: ObjectRef = {
  apiVersion: "apps/v1",
  kind: "DaemonSet",
  namespace: "kube-system",
  name: "kube-proxy",
};

interface DaemonSetStatus {
  metadata?: { generation?: number };
  status?: {
    desiredNumberScheduled?: number;
    numberReady?: number;
    observedGeneration?: number;
  };
}

export type KubeProxyState = { state: "absent" } | { state: "ready"; pods: number };

/** The DaemonSet has scheduled its pods and every one of them is ready. */
export function daemonSetReady(daemonSet: DaemonSetStatus | undefined): number | undefined {
  const status = daemonSet?.status;
  const desired = status?.desiredNumberScheduled ?? 0;
  if (desired === 0 || (status?.numberReady ?? 0) < desired) return undefined;
  if ((status?.observedGeneration ?? 0) < (daemonSet?.metadata?.generation ?? 0)) return undefined;
  return desired;
}

export async function waitForKubeProxy(
  kube: KubeClient,
  timeoutMs: number,
): Promise<KubeProxyState> {
  if ((await kube.get(KUBE_PROXY)) === undefined) return { state: "absent" };
  const pods = await kube.waitFor<DaemonSetStatus, number>(KUBE_PROXY, daemonSetReady, {
    timeoutMs,
    describeTimeout: () =>
      `kube-system/kube-proxy was not ready within ${Math.round(timeoutMs / 1000)} s; pods cannot reach Services without it (kubectl -n kube-system describe daemonset kube-proxy)`,
  });
  return { state: "ready", pods };
}
