/**
 * Repository and artifact references (`registry/repository[:tag|@digest]`, `oci://…`) parsed into
 * their parts, and which registries are loopback (plain HTTP is allowed only there by default).
 */
import { isIP } from "node:net";
import { KsailError } from "../errors.js";
import { isDigest } from "./digest.js";

export interface RepositoryRef {
  /** "host[:port]" exactly as the user wrote it (e.g. "127.0.0.1:5000", "ghcr.io"). */
  registry: string;
  /** "path/name" inside the registry (e.g. "team/app"). */
  repository: string;
}

// Grammar of github.com/distribution/reference (and the OCI distribution spec's <name>).
const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const NAME_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const HOST_RE = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:.]+\\])(?::[0-9]{1,5})?$`,
);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
/** distribution's limit on the whole name, registry included. */
const NAME_TOTAL_LENGTH_MAX = 255;

const EXPECTED_FORM =
  'expected a repository such as "oci://127.0.0.1:5000/app" or "ghcr.io/team/app" (registry host, optional port, then the repository path; no tag or digest)';

function usage(ref: string, problem: string): KsailError {
  return new KsailError("usage", `invalid repository "${redactUserinfo(ref)}": ${problem}`, {
    hint: EXPECTED_FORM,
  });
}

/** "oci://user:pass@host/repo" → "oci://***@host/repo": userinfo is never shown. */
export function redactUserinfo(ref: string): string {
  const m = /^(\s*(?:[a-zA-Z][a-zA-Z0-9+.-]*:\/\/)?)([^/]*)@([^/]*)/.exec(ref);
  // "@" before the first "/" is userinfo; after it, it is a digest.
  return m ? `${m[1]}***@${m[3]}${ref.slice(m[0].length)}` : ref;
}

/**
 * Parses "oci://host:port/a/b", "host:port/a/b" or "host/a". The first path element is always
 * the registry; tags (":tag") and digests ("@sha256:...") are refused because versions are
 * passed separately.
 */
export function parseRepository(ref: string): RepositoryRef {
  let rest = ref.trim();
  if (rest === "") throw usage(ref, "it is empty");
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(rest);
  if (scheme) {
    if (scheme[1]!.toLowerCase() !== "oci") {
      throw usage(ref, `the scheme "${scheme[1]}://" is not supported; use "oci://" or no scheme`);
    }
    rest = rest.slice(scheme[0].length);
  }
  if (rest.endsWith("/")) rest = rest.slice(0, -1);
  const firstSlash = rest.indexOf("/");
  if (rest.slice(0, firstSlash < 0 ? undefined : firstSlash).includes("@")) {
    throw new KsailError(
      "usage",
      `invalid repository "${redactUserinfo(ref)}": it contains a user name or password; ksail never takes credentials from the registry address`,
      {
        code: "CREDENTIALS_IN_URL",
        hint: `Remove them from the address and log in instead: \`docker login ${registryOf(rest)}\` (ksail reads ~/.docker/config.json, $DOCKER_CONFIG and credential helpers).`,
      },
    );
  }
  if (rest.includes("@")) {
    throw usage(ref, "it contains a digest (@...); give the repository only");
  }
  const slash = rest.indexOf("/");
  if (slash <= 0) {
    throw usage(ref, "it has no registry host or no repository path");
  }
  const registry = rest.slice(0, slash);
  const repository = rest.slice(slash + 1);
  if (!HOST_RE.test(registry)) {
    throw usage(ref, `"${registry}" is not a valid registry host[:port]`);
  }
  const port = /:(\d+)$/.exec(registry);
  if (port && (Number(port[1]) < 1 || Number(port[1]) > 65535)) {
    throw usage(ref, `port ${port[1]} is out of range`);
  }
  if (repository.includes(":")) {
    throw usage(ref, "it contains a tag (:...); give the repository only, the version separately");
  }
  if (repository === "") throw usage(ref, "the repository path is empty");
  if (!NAME_RE.test(repository)) {
    throw usage(
      ref,
      `"${repository}" is not a valid repository name (lowercase letters, digits and single separators ".", "_", "__", "-" between them; "/" between path components)`,
    );
  }
  if (registry.length + 1 + repository.length > NAME_TOTAL_LENGTH_MAX) {
    throw usage(ref, `the name is longer than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  return { registry, repository };
}

function registryOf(rest: string): string {
  const slash = rest.indexOf("/");
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  return authority.slice(authority.lastIndexOf("@") + 1);
}

export function formatRepository(ref: RepositoryRef): string {
  return `${ref.registry}/${ref.repository}`;
}

/** Splits "host[:port]" into host and optional port; understands "[::1]:5000". */
export function splitHostPort(registry: string): { host: string; port: string | undefined } {
  if (registry.startsWith("[")) {
    const end = registry.indexOf("]");
    const host = registry.slice(1, end);
    const rest = registry.slice(end + 1);
    return { host, port: rest.startsWith(":") ? rest.slice(1) : undefined };
  }
  // A bare IPv6 address ("::1") has several colons and no port.
  if (registry.split(":").length > 2) return { host: registry, port: undefined };
  const i = registry.lastIndexOf(":");
  return i < 0
    ? { host: registry, port: undefined }
    : { host: registry.slice(0, i), port: registry.slice(i + 1) };
}

/** 127.0.0.0/8, ::1 and localhost (with or without port). */
export function isLoopbackRegistry(registry: string): boolean {
  const host = splitHostPort(registry.trim()).host.toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (isIP(host) === 4) return host.split(".")[0] === "127";
  if (isIP(host) === 6) {
    if (host === "::1" || /^(?:0{1,4}:){7}0{0,3}1$/.test(host)) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
    return mapped !== null && mapped[1]!.startsWith("127.");
  }
  return false;
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** A manifest reference is a tag or a digest. Throws KsailError("usage") otherwise. */
export function assertReference(reference: string): void {
  if (!isValidTag(reference) && !isDigest(reference)) {
    throw new KsailError(
      "usage",
      `"${reference}" is neither a valid tag (letters, digits, "_", "." and "-", at most 128, not starting with "." or "-") nor a digest ("sha256:<64 hex>")`,
    );
  }
}
