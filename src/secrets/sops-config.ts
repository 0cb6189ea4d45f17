/**
 * `.sops.yaml`, the sops CLI's configuration: found in the working directory or the nearest
 * parent (as sops finds it); its `creation_rules` say, per file, which recipients and which rule
 * (`encrypted_regex`, …) a new encryption uses. The first rule whose `path_regex` matches the file
 * path — relative to the directory of `.sops.yaml` — wins; a rule without `path_regex` matches
 * every file. Only age recipients are read (`age: "age1…,age1…"` or a list, or the age entries
 * of a single key group).
 */
import { readFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { parse } from "yaml";
import { KsailError } from "../errors.js";
import type { EncryptionRules } from "./tree.js";

export const SOPS_CONFIG_NAMES = [".sops.yaml", ".sops.yml"];

export interface CreationRule {
  pathRegex?: string;
  recipients: string[];
  rules: EncryptionRules;
}

export interface SopsConfig {
  path: string;
  creationRules: CreationRule[];
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new KsailError("config", `cannot read ${path} (${code ?? "error"})`, { cause: error });
  }
}

/** The nearest `.sops.yaml` at or above `start`; undefined when there is none. */
export async function findSopsConfig(start: string): Promise<string | undefined> {
  let dir = resolve(start);
  for (;;) {
    for (const name of SOPS_CONFIG_NAMES) {
      const path = join(dir, name);
      if ((await readIfExists(path)) !== undefined) return path;
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function recipientsOf(value: unknown, where: string): string[] {
  if (value === undefined || value === null) return [];
  const list = typeof value === "string" ? value.split(",") : value;
  if (!Array.isArray(list) || list.some((r) => typeof r !== "string"))
    throw new KsailError(
      "config",
      `${where}: age must be a comma-separated string or a list of recipients`,
    );
  return (list as string[]).map((r) => r.trim()).filter((r) => r !== "");
}

function optionalString(
  rule: Record<string, unknown>,
  key: string,
  where: string,
): string | undefined {
  const value = rule[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string")
    throw new KsailError("config", `${where}: ${key} must be a string`);
  return value;
}

export async function readSopsConfig(path: string): Promise<SopsConfig> {
  const text = (await readIfExists(path)) ?? "";
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    throw new KsailError(
      "config",
      `${path} is not valid YAML: ${(error as Error).message.split("\n")[0]}`,
    );
  }
  const rules = (doc as { creation_rules?: unknown } | null)?.creation_rules;
  if (rules === undefined || rules === null) return { path, creationRules: [] };
  if (!Array.isArray(rules))
    throw new KsailError("config", `${path}: creation_rules must be a list`);
  const creationRules = rules.map((raw: unknown, i): CreationRule => {
    const where = `${path}: creation_rules[${i}]`;
    if (typeof raw !== "object" || raw === null)
      throw new KsailError("config", `${where} must be a mapping`);
    const rule = raw as Record<string, unknown>;
    let recipients = recipientsOf(rule.age, where);
    if (Array.isArray(rule.key_groups)) {
      if (rule.key_groups.length > 1)
        throw new KsailError(
          "config",
          `${where}: several key_groups (Shamir) are not supported by ksail; use the sops CLI`,
        );
      recipients = [
        ...recipients,
        ...recipientsOf((rule.key_groups[0] as { age?: unknown } | undefined)?.age, where),
      ];
    }
    const encryption: EncryptionRules = {};
    const set = (field: string, key: keyof Omit<EncryptionRules, "macOnlyEncrypted">) => {
      const value = optionalString(rule, field, where);
      if (value !== undefined) encryption[key] = value;
    };
    set("encrypted_regex", "encryptedRegex");
    set("unencrypted_regex", "unencryptedRegex");
    set("encrypted_suffix", "encryptedSuffix");
    set("unencrypted_suffix", "unencryptedSuffix");
    if (rule.mac_only_encrypted === true) encryption.macOnlyEncrypted = true;
    const pathRegex = optionalString(rule, "path_regex", where);
    return { ...(pathRegex === undefined ? {} : { pathRegex }), recipients, rules: encryption };
  });
  return { path, creationRules };
}

/** The creation rule for `file` (any path); undefined when no rule matches. */
export function ruleFor(config: SopsConfig, file: string): CreationRule | undefined {
  const dir = dirname(resolve(config.path));
  const absolute = resolve(file);
  const path = absolute.startsWith(dir + sep)
    ? relative(dir, absolute).split(sep).join("/")
    : absolute;
  return config.creationRules.find((rule) => {
    if (rule.pathRegex === undefined) return true;
    try {
      return new RegExp(rule.pathRegex).test(path);
    } catch {
      throw new KsailError(
        "config",
        `${config.path}: path_regex ${rule.pathRegex} is not a valid regular expression`,
      );
    }
  });
}

/** The `.sops.yaml` text keygen writes for a source directory (relative to the project root). */
export function creationRuleText(sourceDir: string, recipient: string): string {
  const dir = sourceDir
    .replace(/\\/g, "/")
    .replace(/^\.\/?/, "")
    .replace(/\/$/, "");
  const escaped = dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pathRegex = dir === "" ? "\\.ya?ml$" : `^${escaped}/.*\\.ya?ml$`;
  return [
    "creation_rules:",
    `  - path_regex: ${JSON.stringify(pathRegex)}`,
    '    encrypted_regex: "^(data|stringData)$"',
    `    age: ${recipient}`,
    "",
  ].join("\n");
}
