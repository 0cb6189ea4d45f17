/**
 * Who decides what Ctrl-C (SIGINT) or SIGTERM does. Some listeners only tidy up (temporary
 * directories) and let the signal end the process; they are "passive". Any other listener (e.g.
 * `workload watch`, which finishes its running push first) takes the decision over.
 */
type Listener = (...args: never[]) => unknown;

const passive = new WeakSet<Listener>();

/** Marks a signal listener as one that only tidies up and never keeps the process alive. */
export function markPassive<T extends Listener>(listener: T): T {
  passive.add(listener);
  return listener;
}

/** True when a listener other than `self` and the passive ones handles `signal`. */
export function someoneElseHandles(signal: NodeJS.Signals, self: Listener): boolean {
  return process
    .listeners(signal)
    .some((listener) => listener !== self && !passive.has(listener as Listener));
}
