/**
 * The lab on a machine whose iptables FORWARD policy is DROP (what any Docker daemon with iptables
 * on the same host sets): the lab's own daemons run with --iptables=false, so without the ACCEPT
 * rules for their subnets (lab/docker.ts acceptForwarding) their containers cannot reach each
 * other. The policy is per network namespace, so the DROP is set in a namespace of this test's
 * own (`unshare --net`), never on the machine: other tests running beside it are not affected.
 * Inside it, cluster-mirror.test.ts runs as it is — its mirror pulls from the registry container
 * over the engine's bridge, container to container.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { which } from "../../lab/docker.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function inDropNamespace(testFile: string): Promise<{ code: number | null; output: string }> {
  const script = [
    "ip link set lo up",
    "iptables -w 5 -P FORWARD DROP",
    // Proof that the policy really is DROP where the lab runs.
    "iptables -S FORWARD | grep -qx -- '-P FORWARD DROP'",
    `exec node --import tsx --test ${testFile}`,
  ].join(" && ");
  return new Promise((resolve, reject) => {
    // A test file of its own, not a subtest of this one (node:test marks children with this).
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const child = spawn("unshare", ["--net", "sh", "-c", script], {
      cwd: ROOT,
      env: { ...env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` },
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

describe("the lab with the FORWARD policy DROP", () => {
  it("mirror registries reach the registry container across the lab's bridge", async () => {
    for (const tool of ["unshare", "iptables", "ip"]) {
      assert.ok(
        which(tool) ?? which(`/usr/sbin/${tool}`),
        `${tool} is missing: run \`apt-get install -y util-linux iptables iproute2\``,
      );
    }
    const { code, output } = await inDropNamespace("test/integration/cluster-mirror.test.ts");
    assert.equal(code, 0, output.split("\n").slice(-60).join("\n"));
    assert.match(output, /^# fail 0$/m);
    assert.match(output, /^# pass [1-9]/m);
  });
});
