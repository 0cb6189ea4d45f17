/**
 * One real distribution registry and one RegistryClient (no credentials) for a test suite:
 * started in `before`, stopped in `after`. Read the fields inside tests, not at declaration.
 */
import { after, before } from "node:test";
import { RegistryClient } from "../src/oci/client.js";
import type { RegistryClientOptions } from "../src/oci/client.js";
import type { RepositoryRef } from "../src/oci/reference.js";
import { startRegistry } from "./registry.js";
import type { LabRegistry } from "./registry.js";

export interface RegistrySuite {
  lab: LabRegistry;
  client: RegistryClient;
  /** "team/app" on the lab registry. */
  repo: RepositoryRef;
}

export function registrySuite(options: RegistryClientOptions = {}): RegistrySuite {
  const suite = {} as RegistrySuite;
  before(async () => {
    suite.lab = await startRegistry();
    suite.client = new RegistryClient({ credentials: async () => undefined, ...options });
    suite.repo = { registry: suite.lab.registry, repository: "team/app" };
  });
  after(async () => {
    suite.client?.close();
    await suite.lab?.stop();
  });
  return suite;
}
