// The project the loop benchmarks (reconcile, watch, images) edit, as test/e2e/flux-loop.test.ts
// sets it up: a ConfigMap whose value each save changes, a Deployment (replicas 0: the process
// lab has no kubelet, so its health check passes once the template is applied) and the
// kustomization listing both.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const PROJECT_NAME = "bench";
export const CM_NAME = `${PROJECT_NAME}-settings`;
export const DEPLOY_NAME = `${PROJECT_NAME}-web`;

/** @param {string} greeting */
export const configMap = (greeting) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${CM_NAME}
  namespace: default
data:
  greeting: ${JSON.stringify(greeting)}
`;

/** @param {string} [image] */
export const deployment = (image = "localhost:5000/web:1") => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${DEPLOY_NAME}
  namespace: default
spec:
  replicas: 0
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: ${image}
`;

export const KUSTOMIZATION = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - settings.yaml
  - web.yaml
`;

/**
 * Writes the three files into `dir`.
 * @param {string} dir
 * @param {string} greeting
 * @param {string} [image]
 */
export async function writeSource(dir, greeting, image) {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "kustomization.yaml"), KUSTOMIZATION);
  await writeFile(join(dir, "web.yaml"), deployment(image));
  await writeFile(join(dir, "settings.yaml"), configMap(greeting));
}
