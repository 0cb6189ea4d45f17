/**
 * The local registry container's scenarios (registry-container-scenarios.ts) against a real
 * Podman service (lab/podman.ts) instead of dockerd.
 */
import { startPodmanService } from "../../lab/podman.js";
import { registryContainerScenarios } from "./registry-container-scenarios.js";

registryContainerScenarios("Podman", startPodmanService);
