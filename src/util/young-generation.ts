/**
 * V8's young generation for a long-running process. V8 doubles a semi-space whenever a scavenge
 * finds it busy (up to 16 MiB each on Node 20, so 32 MiB of new space plus what survives) and
 * shrinks it only when the process goes idle; a `workload watch` that saves every few seconds
 * never does, so its RSS climbed ~27 MiB over 300 cycles while its heap after a full GC stayed
 * flat (bench/watch.mjs leak probe). Keeping the semi-spaces at their initial size costs more,
 * cheaper scavenges (a cycle allocates a few MiB) and no growth.
 */
import { setFlagsFromString } from "node:v8";

/** Stops V8 from growing the young generation for the rest of this process. */
export function keepYoungGenerationSmall(): void {
  // --max-semi-space-size is read only at start-up; the growth factor is read at every resize.
  setFlagsFromString("--semi-space-growth-factor=1");
}
