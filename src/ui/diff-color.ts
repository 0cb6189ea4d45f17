/**
 * Diffs in colour, as `git diff` shows them: removed lines red, added lines green, hunk headers
 * cyan, file headers bold. Only for a terminal (colorEnabled with stdout's isTTY, NO_COLOR,
 * FORCE_COLOR); piped output and -o json|yaml stay plain.
 */
import { paint, paintMark, type Color } from "./color.js";

/** A unified diff (`--- a`, `+++ b`, `@@ … @@`, `+`/`-`/` ` lines), e.g. --files and --cluster. */
export function paintPatch(text: string, enabled: boolean): string {
  if (!enabled) return text;
  return text.replace(/^.*$/gm, (line) => {
    const color = patchLineColor(line);
    return color === undefined ? paintMark(line, true) : paint(line, color, true);
  });
}

function patchLineColor(line: string): Color | undefined {
  if (line.startsWith("--- ") || line.startsWith("+++ ") || /^={10,}$/.test(line)) return "bold";
  if (line.startsWith("@@")) return "cyan";
  if (line.startsWith("+")) return "green";
  if (line.startsWith("-")) return "red";
  return undefined;
}

const CHANGE_COLORS: Record<string, Color> = { added: "green", removed: "red", changed: "yellow" };

/**
 * The object diff: `Kind namespace/name added|removed|changed` (the change word coloured), then
 * the changed fields as `+ `/`- ` lines.
 */
export function paintObjectDiff(text: string, enabled: boolean): string {
  if (!enabled) return text;
  return text.replace(/^.*$/gm, (line) => {
    if (line.startsWith("+ ")) return paint(line, "green", true);
    if (line.startsWith("- ")) return paint(line, "red", true);
    const header = /^(\S.*) (added|removed|changed)$/.exec(line);
    if (header)
      return `${paint(header[1]!, "bold", true)} ${paint(header[2]!, CHANGE_COLORS[header[2]!]!, true)}`;
    return line;
  });
}
