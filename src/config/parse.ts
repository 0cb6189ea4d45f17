/**
 * ksail.yaml's text (or a base) merged with KSAIL_* and flags, then validated by the schema;
 * every error names where the bad value came from (file:line:column, variable or flag).
 * Loaded by loadConfig (load.ts) only when there is something to parse.
 */
import { isAbsolute, resolve } from "node:path";
import { isMap, isScalar, LineCounter, parseDocument, visit, type Document } from "yaml";
import type { z } from "zod/v4";
import { KsailError } from "../errors.js";
import { CONFIG_FILE } from "./defaults.js";
import {
  fieldSchema,
  ksailConfigSchema,
  resolveDerivedDefaults,
  type KsailConfig,
} from "./schema.js";
import { SETTINGS, type ConfigSetting } from "./settings.js";

type Origin = { kind: "env"; name: string } | { kind: "flag"; name: string };

export interface ConfigSource {
  /** ksail.yaml's text; undefined when no file was read (then `base` is used). */
  text: string | undefined;
  /** How errors name the file. */
  displayPath: string;
  base: Record<string, unknown>;
  env: NodeJS.ProcessEnv;
  /** Flag values keyed by Setting.key; undefined values are ignored. */
  flags: Record<string, unknown>;
  cwd: string;
  baseDir: string;
  /** Whether a relative spec.connection.kubeconfig is made absolute. */
  resolvePaths: boolean;
}

export function parseConfig({
  text,
  displayPath,
  base,
  env,
  flags,
  cwd,
  baseDir,
  resolvePaths,
}: ConfigSource): KsailConfig {
  const lineCounter = new LineCounter();
  // uniqueKeys: the yaml library compares each key with every earlier one (quadratic: a file of
  // 40,000 keys took 11 s); duplicateKey below does the same check with a set.
  const doc =
    text === undefined
      ? undefined
      : parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  if (doc && doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const at = lineCounter.linePos(first.pos[0]);
    throw new KsailError(
      "config",
      `${displayPath}:${at.line}:${at.col}: ${first.message.split("\n")[0]}`,
      {
        hint: "Fix the YAML syntax at that line.",
      },
    );
  }
  const duplicate = doc && duplicateKey(doc);
  if (duplicate) {
    const at = lineCounter.linePos(duplicate.offset);
    throw new KsailError(
      "config",
      `${displayPath}:${at.line}:${at.col}: duplicate key "${duplicate.key}"`,
      { hint: "Keep one of the two keys: YAML mappings have unique keys." },
    );
  }
  const raw: Record<string, unknown> =
    doc === undefined
      ? structuredClone(base)
      : ((toJS(doc, displayPath) as Record<string, unknown> | null) ?? {});
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new KsailError(
      "config",
      `${displayPath}: expected a mapping with apiVersion, kind, metadata and spec`,
    );
  }

  const origins = new Map<string, Origin>();
  for (const setting of SETTINGS) {
    const value = setting.env === undefined ? undefined : env[setting.env];
    if (setting.env !== undefined && value !== undefined && value !== "") {
      setIn(raw, setting.path, coerce(setting, value));
      origins.set(setting.path.join("."), { kind: "env", name: setting.env });
    }
  }
  for (const setting of SETTINGS) {
    const value = flags[setting.key];
    if (value !== undefined) {
      setIn(raw, setting.path, typeof value === "string" ? coerce(setting, value) : value);
      origins.set(setting.path.join("."), { kind: "flag", name: setting.flag });
    }
  }

  for (const setting of SETTINGS) if (setting.choices) normalizeChoice(raw, setting);

  const result = ksailConfigSchema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues.flatMap(splitUnknownKeys).map((issue) => ({
      origin: originOf(issue, origins),
      text: describeIssue(issue, displayPath, doc, lineCounter, origins),
    }));
    // A bad flag value is a usage error (exit 2); a bad ksail.yaml or KSAIL_* value is config (8).
    const badFlags = issues.filter((i) => i.origin?.kind === "flag");
    if (badFlags.length > 0) {
      throw new KsailError("usage", `invalid ${badFlags[0]!.text}`, {
        details: badFlags.slice(1).map((i) => i.text),
      });
    }
    throw new KsailError("config", `invalid configuration: ${issues[0]!.text}`, {
      details: issues.slice(1).map((i) => i.text),
      hint: `See schemas/ksail.schema.json for every field; \`ksail init\` writes a valid ${CONFIG_FILE}.`,
    });
  }
  const config = resolveDerivedDefaults(result.data);
  const kubeconfig = config.spec.connection.kubeconfig;
  if (
    resolvePaths &&
    kubeconfig !== undefined &&
    !isAbsolute(kubeconfig) &&
    !/^~(?=$|\/)/.test(kubeconfig)
  ) {
    // Relative paths in the file mean "next to ksail.yaml"; from a flag or KSAIL_*, the cwd.
    const fromFile = !origins.has("spec.connection.kubeconfig");
    config.spec.connection.kubeconfig = resolve(fromFile ? baseDir : cwd, kubeconfig);
  }
  return config;
}

/** The first key that repeats in a mapping, in one pass over the document. */
function duplicateKey(doc: Document): { key: string; offset: number } | undefined {
  let found: { key: string; offset: number } | undefined;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (seen.has(key)) {
          found = {
            key: String(key),
            offset: isScalar(pair.key) ? (pair.key.range?.[0] ?? 0) : 0,
          };
          return visit.BREAK;
        }
        seen.add(key);
      }
      return undefined;
    },
  });
  return found;
}

/**
 * The document as plain values. Aliases expand here, and the yaml library stops a document whose
 * aliases expand beyond a bound (a "billion laughs"): a config error, not a crash.
 */
function toJS(doc: Document, displayPath: string): unknown {
  try {
    return doc.toJS();
  } catch (error) {
    if (error instanceof ReferenceError) {
      throw new KsailError(
        "config",
        `${displayPath}: ${error.message} (YAML aliases that expand too much)`,
        { hint: `A ${CONFIG_FILE} needs no aliases (&name / *name): write the values out.` },
      );
    }
    throw error;
  }
}

/**
 * A flag's value checked by the schema's own check of the field it sets (`flag` as the command
 * spells it, e.g. the registry commands' --port for spec.options.localRegistry.hostPort); a bad
 * value is a usage error naming the flag.
 */
export function checkFlag(setting: ConfigSetting, text: string, flag = setting.flag): unknown {
  const value = coerce(setting, text);
  const result = fieldSchema(setting.path).safeParse(value);
  if (result.success) return result.data;
  throw new KsailError("usage", `${flag} ${result.error.issues[0]!.message}, got "${text}"`);
}

/** "kind" → "Kind": the closed sets are matched without regard to case. */
function normalizeChoice(raw: Record<string, unknown>, setting: ConfigSetting): void {
  let node: unknown = raw;
  for (const key of setting.path.slice(0, -1)) {
    if (typeof node !== "object" || node === null) return;
    node = (node as Record<string, unknown>)[key];
  }
  if (typeof node !== "object" || node === null) return;
  const last = setting.path[setting.path.length - 1]!;
  const value = (node as Record<string, unknown>)[last];
  if (typeof value !== "string") return;
  const match = setting.choices!.find((c) => c.toLowerCase() === value.toLowerCase());
  if (match !== undefined) (node as Record<string, unknown>)[last] = match;
}

function originOf(issue: z.core.$ZodIssue, origins: Map<string, Origin>): Origin | undefined {
  const path = issue.path.map(String);
  for (let i = path.length; i > 0; i--) {
    const origin = origins.get(path.slice(0, i).join("."));
    if (origin) return origin;
  }
  return undefined;
}

function coerce(setting: ConfigSetting, value: string): unknown {
  if (!setting.numeric) return value;
  const number = Number(value);
  return Number.isFinite(number) && value.trim() !== "" ? number : value;
}

function setIn(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** Unknown fields reported one by one; a file of thousands gets "… and N more". */
const MAX_KEYS_NAMED = 10;

function describeIssue(
  issue: z.core.$ZodIssue,
  displayPath: string,
  doc: Document | undefined,
  lineCounter: LineCounter,
  origins: Map<string, Origin>,
): string {
  const path = issue.path.map(String);
  const field = path.join(".") || "(root)";
  if (issue.code === "unrecognized_keys") {
    // One issue per key (splitUnknownKeys), reported at the key's own line.
    const key = issue.keys[0]!;
    const where = locate(displayPath, doc, lineCounter, [...path, key], true);
    const name = [...path, key].join(".");
    // The rest of a file of thousands (splitUnknownKeys): counted, not listed.
    if (issue.keys.length > 1)
      return `${where}: ${name} and ${issue.keys.length - 1} more unknown fields`;
    const suggestion = closest(key, knownFields(path));
    return `${where}: ${name}: unknown field${suggestion ? `; did you mean ${suggestion}?` : ""}`;
  }
  const message = issue.message;
  for (let i = path.length; i > 0; i--) {
    const origin = origins.get(path.slice(0, i).join("."));
    if (origin)
      return `${origin.kind === "env" ? `environment variable ${origin.name}` : `flag ${origin.name}`} (${field}): ${message}`;
  }
  return `${locate(displayPath, doc, lineCounter, path)}: ${field}: ${message}`;
}

/**
 * An unrecognized_keys issue for several keys as one issue per key, for the first
 * MAX_KEYS_NAMED of them; the rest stay together as one more issue.
 */
function splitUnknownKeys(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== "unrecognized_keys" || issue.keys.length <= 1) return [issue];
  const named = issue.keys.slice(0, MAX_KEYS_NAMED).map((key) => ({ ...issue, keys: [key] }));
  const rest = issue.keys.slice(MAX_KEYS_NAMED);
  return rest.length > 0 ? [...named, { ...issue, keys: rest }] : named;
}

/** The fields the schema allows at `path` (an object's keys), for "did you mean". */
function knownFields(path: readonly string[]): string[] {
  try {
    let schema = fieldSchema(path);
    while ("innerType" in schema.def) schema = schema.def.innerType as z.ZodType;
    const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape;
    return shape ? Object.keys(shape) : [];
  } catch {
    return [];
  }
}

/**
 * The known field a mistyped one most likely means: the same but for case, one that starts with
 * it or it with one ("sourceDir" → sourceDirectory), or one at most a third of its letters away.
 */
export function closest(typed: string, known: readonly string[]): string | undefined {
  const lower = typed.toLowerCase();
  const exact = known.find((k) => k.toLowerCase() === lower);
  if (exact) return exact;
  const prefix = known.filter(
    (k) =>
      lower.length >= 3 && (k.toLowerCase().startsWith(lower) || lower.startsWith(k.toLowerCase())),
  );
  if (prefix.length === 1) return prefix[0];
  let best: { key: string; distance: number } | undefined;
  for (const key of known) {
    const distance = editDistance(lower, key.toLowerCase());
    if (!best || distance < best.distance) best = { key, distance };
  }
  return best && best.distance <= Math.max(1, Math.floor(typed.length / 3)) ? best.key : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * file:line:col of the deepest existing node on the path (the key itself when the value is
 * missing, or always with `atKey`).
 */
function locate(
  displayPath: string,
  doc: Document | undefined,
  lineCounter: LineCounter,
  path: string[],
  atKey = false,
): string {
  if (!doc) return displayPath;
  for (let i = path.length; i >= 0; i--) {
    const node = doc.getIn(path.slice(0, i), true) as
      { range?: [number, number, number] } | undefined;
    const parent = i > 0 ? doc.getIn(path.slice(0, i - 1), true) : doc.contents;
    let offset = node && (isScalar(node) || isMap(node)) ? node.range?.[0] : undefined;
    if (i > 0 && isMap(parent)) {
      const pair = parent.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === path[i - 1],
      );
      if (pair && isScalar(pair.key) && pair.key.range)
        offset = isScalar(pair.value) && !atKey ? pair.value.range?.[0] : pair.key.range[0];
    }
    if (offset !== undefined) {
      const { line, col } = lineCounter.linePos(offset);
      return `${displayPath}:${line}:${col}`;
    }
  }
  return displayPath;
}
