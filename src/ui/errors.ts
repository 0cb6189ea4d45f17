/** Turns any thrown value into the text a person reads, and the exit status. */
import { exitCodeFor, isKsailError } from "../errors.js";

export function formatError(error: unknown, verbose = false): string {
  if (isKsailError(error)) {
    const lines = [`error: ${error.message}`];
    for (const detail of error.details) lines.push(`  ${detail}`);
    if (error.hint) lines.push(`hint: ${error.hint}`);
    if (verbose && error.cause) lines.push(`cause: ${describeCause(error.cause)}`);
    return lines.join("\n");
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return `internal error (a bug in ksail, please report it):\n${text}`;
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
}

export { exitCodeFor };

/**
 * The error as data, for `-o json` / `-o yaml`: printed on stdout (where the result would have
 * been), while the text above still goes to stderr.
 */
export function errorObject(error: unknown): { error: Record<string, unknown> } {
  if (isKsailError(error)) {
    return {
      error: {
        kind: error.kind,
        exitCode: exitCodeFor(error),
        message: error.message,
        ...(error.details.length > 0 ? { details: error.details } : {}),
        ...(error.hint ? { hint: error.hint } : {}),
        ...(error.code ? { code: error.code } : {}),
      },
    };
  }
  return {
    error: {
      kind: "internal",
      exitCode: exitCodeFor(error),
      message: error instanceof Error ? error.message : String(error),
    },
  };
}
