/**
 * `workload build` through Podman's Docker API (lab/podman.ts): buildah builds the image behind
 * the same `/build` call, Podman pushes to the distribution registry (plain HTTP on 127.0.0.1,
 * `tlsVerify=false`), the second build is a cache hit, and a failing Dockerfile pushes nothing.
 */
import { startPodmanService } from "../../lab/podman.js";
import { imageBuildScenarios } from "./images-build-scenarios.js";

imageBuildScenarios("Podman", startPodmanService, { full: false });
