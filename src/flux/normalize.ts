/** Defaults the API server fills in, applied before objects are compared (as Flux compares them). */
import type { KubeObject } from "./render.js";

/** fluxcd/pkg/ssa normalize: default port protocols (SSA list keys), Secret stringData → data. */
export function normalize(object: KubeObject): void {
  const podSpecs: unknown[] = [];
  const spec = object.spec as Record<string, unknown> | undefined;
  const template = (s: unknown) =>
    (s as { template?: { spec?: unknown } } | undefined)?.template?.spec;
  switch (object.kind) {
    case "Pod":
      podSpecs.push(spec);
      break;
    case "Deployment":
    case "StatefulSet":
    case "DaemonSet":
    case "ReplicaSet":
    case "ReplicationController":
    case "Job":
      podSpecs.push(template(spec));
      break;
    case "CronJob":
      podSpecs.push(template((spec?.jobTemplate as { spec?: unknown } | undefined)?.spec));
      break;
    case "Service":
      for (const port of (spec?.ports as Record<string, unknown>[] | undefined) ?? []) {
        port.protocol ??= "TCP";
      }
      break;
    case "Secret":
      if (object.stringData && typeof object.stringData === "object") {
        const data = (object.data ?? {}) as Record<string, string>;
        for (const [key, value] of Object.entries(object.stringData as Record<string, string>)) {
          data[key] = Buffer.from(String(value)).toString("base64");
        }
        object.data = data;
        delete object.stringData;
      }
      break;
  }
  for (const podSpec of podSpecs) {
    const pod = podSpec as Record<string, unknown[] | undefined> | undefined;
    for (const list of [pod?.containers, pod?.initContainers, pod?.ephemeralContainers]) {
      for (const container of (list ?? []) as { ports?: Record<string, unknown>[] }[]) {
        for (const port of container.ports ?? []) port.protocol ??= "TCP";
      }
    }
  }
}
