import assert from "node:assert/strict";
import { test } from "node:test";
import { daemonSetReady } from "../../src/k8s/kube-proxy.js";

test("kube-proxy counts as ready only when every scheduled pod is ready, for the current spec", () => {
  assert.equal(daemonSetReady(undefined), undefined);
  // Created by kubeadm, not yet seen by the DaemonSet controller.
  assert.equal(daemonSetReady({ metadata: { generation: 1 }, status: {} }), undefined);
  assert.equal(
    daemonSetReady({
      metadata: { generation: 1 },
      status: { desiredNumberScheduled: 1, numberReady: 0, observedGeneration: 1 },
    }),
    undefined,
  );
  assert.equal(
    daemonSetReady({
      metadata: { generation: 2 },
      status: { desiredNumberScheduled: 1, numberReady: 1, observedGeneration: 1 },
    }),
    undefined,
  );
  assert.equal(
    daemonSetReady({
      metadata: { generation: 2 },
      status: { desiredNumberScheduled: 3, numberReady: 3, observedGeneration: 2 },
    }),
    3,
  );
});
