/**
 * One error type for everything a user can act on. `kind` decides the exit status
 * (see `exitCodeFor` and the README's table); `hint` says what to do next.
 */
export type ErrorKind =
  | "usage" // bad flags or arguments
  | "config" // ksail.yaml or KSAIL_* values are invalid
  | "validation" // manifests or artifacts fail validation (FR-017)
  | "unreachable" // registry / engine / API server cannot be reached
  | "auth" // credentials missing or refused
  | "not-found" // repository, tag, digest, file or object does not exist
  | "conflict" // something exists that must not (file to overwrite, port taken, ...)
  | "registry" // the registry answered with an error we cannot classify further
  | "timeout" // waited too long
  | "failed"; // an operation ran and reported failure (e.g. Flux Ready=False)

export const EXIT_CODES: Readonly<Record<ErrorKind | "ok" | "internal", number>> = {
  ok: 0,
  failed: 1,
  usage: 2,
  validation: 3,
  unreachable: 4,
  auth: 5,
  "not-found": 6,
  conflict: 7,
  config: 8,
  registry: 9,
  timeout: 10,
  internal: 70,
};

export interface KsailErrorOptions {
  hint?: string;
  details?: string[];
  cause?: unknown;
  /** Machine-readable code from the far side, e.g. the registry's MANIFEST_BLOB_UNKNOWN. */
  code?: string;
}

export class KsailError extends Error {
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  readonly details: string[];
  readonly code: string | undefined;

  constructor(kind: ErrorKind, message: string, options: KsailErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KsailError";
    this.kind = kind;
    this.hint = options.hint;
    this.details = options.details ?? [];
    this.code = options.code;
  }
}

export function isKsailError(error: unknown): error is KsailError {
  return error instanceof KsailError;
}

export function exitCodeFor(error: unknown): number {
  return isKsailError(error) ? EXIT_CODES[error.kind] : EXIT_CODES.internal;
}
