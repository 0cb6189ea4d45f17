/** Shared types of the validators: an issue, and a parsed YAML file with its line counter. */
import type { Document, LineCounter, Node } from "yaml";

export interface ValidationIssue {
  /** Path relative to the source root ("." for the directory itself). */
  file: string;
  line?: number;
  column?: number;
  rule: string;
  message: string;
}

/** A parsed YAML file and how to turn offsets into lines. */
export interface ParsedYaml {
  path: string;
  docs: Document.Parsed[];
  lineCounter: LineCounter;
}

export function position(
  parsed: ParsedYaml,
  node: Node | null | undefined,
): { line?: number; column?: number } {
  const offset = node?.range?.[0];
  if (offset === undefined) return {};
  const pos = parsed.lineCounter.linePos(offset);
  return { line: pos.line, column: pos.col };
}
