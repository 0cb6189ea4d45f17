/**
 * `ksail registry ...` and `workload push` + `prune` (garbage collection in the registry
 * container) as processes against a real Podman service (lab/podman.ts): the scenarios of
 * registry-cli-scenarios.ts.
 */
import { startPodmanService } from "../../lab/podman.js";
import { registryCliScenarios } from "./registry-cli-scenarios.js";

registryCliScenarios("Podman", startPodmanService);
