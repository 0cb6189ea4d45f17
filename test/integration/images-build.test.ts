/**
 * `workload build` on a real Docker Engine (our own dockerd unless KSAIL_TEST_DOCKER_HOST is set)
 * and the distribution registry: the scenarios of images-build-scenarios.ts.
 */
import { startDockerEngine } from "../../lab/docker.js";
import { imageBuildScenarios } from "./images-build-scenarios.js";

imageBuildScenarios("Docker Engine", startDockerEngine, { full: true });
