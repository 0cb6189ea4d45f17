/**
 * Colour for the terminal, the way most CLIs decide it: only when the stream is a terminal, never
 * with NO_COLOR set (any value, https://no-color.org), always with FORCE_COLOR (unless 0/false).
 * No dependencies: loaded at start-up for error messages.
 */
export function colorEnabled(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (env.NO_COLOR !== undefined) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== "0" && force.toLowerCase() !== "false";
  return isTTY && env.TERM !== "dumb";
}

const CODES = { red: 31, green: 32, yellow: 33, cyan: 36, dim: 2, bold: 1 } as const;
export type Color = keyof typeof CODES;

export function paint(text: string, color: Color, enabled: boolean): string {
  return enabled ? `\x1b[${CODES[color]}m${text}\x1b[0m` : text;
}

const MARKS: [prefix: string, color: Color][] = [
  ["✓ ", "green"],
  ["✗ ", "red"],
  ["► ", "cyan"],
  ["◎ ", "cyan"],
  ["warning:", "yellow"],
  ["error:", "red"],
  ["hint:", "cyan"],
];

/** Colours the leading mark of a progress, warning or error line ("✓ …", "error: …"). */
export function paintMark(line: string, enabled: boolean): string {
  if (!enabled) return line;
  for (const [prefix, color] of MARKS) {
    if (line.startsWith(prefix)) return paint(prefix, color, true) + line.slice(prefix.length);
  }
  return line;
}
