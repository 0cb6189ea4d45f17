/** How `ksail workload watch` prints a cycle: one line on stderr (problems below it), or JSON. */
import type { CycleReport } from "./watch.js";
import { count } from "../util/plural.js";

function ms(value: number | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value < 1000 ? `${Math.round(value)}ms` : `${(value / 1000).toFixed(2)}s`;
}

function files(changed: string[], built: string[] = []): string {
  if (built.length > 0) {
    const images = `built ${built.join(", ")}`;
    return changed.length === 0 ? images : `${files(changed)}; ${images}`;
  }
  if (changed.length === 0) return "";
  const shown = changed.slice(0, 3).join(", ");
  return changed.length > 3 ? `${shown} +${changed.length - 3} more` : shown;
}

function timings(report: CycleReport): string {
  const t = report.timings;
  const parts = [
    ["build", ms(t.buildMs)],
    ["validate", ms(t.validateMs)],
    ["push", ms(t.pushMs)],
    ["fetch", ms(t.fetchMs)],
    ["apply", ms(t.applyMs)],
    ["check", ms(t.checkMs)],
  ]
    .filter(([, value]) => value !== undefined)
    .map(([label, value]) => `${label} ${value}`);
  const from = report.trigger === "change" ? "from save" : "in all";
  parts.push(`${ms(t.totalMs)} ${from}`);
  return parts.join(" · ");
}

/** The human line(s) for one cycle, without a trailing newline. */
export function formatCycle(report: CycleReport): string {
  const what =
    report.trigger === "start"
      ? "start"
      : report.trigger === "retry"
        ? `retry${report.changed.length > 0 ? ` ${files(report.changed)}` : ""}`
        : files(report.changed, report.built);
  const version = report.version ?? "";
  switch (report.outcome) {
    case "applied":
      return `✓ ${what} → ${version} applied (${timings(report)})${pruned(report)}`;
    case "pushed":
      return `✓ ${what} → ${version} pushed (${timings(report)})${pruned(report)}`;
    case "pinned":
      return `· ${what} → ${version} pushed, not applied: the cluster is pinned to ${report.pinnedTo ?? "an older version"} (${timings(report)})`;
    case "unchanged":
      return `· ${what}: content unchanged, ${version} is current (${timings(report)})`;
    case "invalid":
      return [
        `✗ ${what}: invalid, nothing pushed — ${count(report.problems?.length ?? 0, "problem")}:`,
        ...(report.problems ?? []).map((p) => `    ${p}`),
      ].join("\n");
    case "flux-failed":
      return [
        `✗ ${what} → ${version} pushed, Flux failed: ${report.message ?? ""}`,
        ...(report.hint ? [`    hint: ${report.hint}`] : []),
      ].join("\n");
    case "unreachable":
      return [
        `✗ ${what}: ${report.message ?? "unreachable"}`,
        ...(report.hint ? [`    hint: ${report.hint}`] : []),
      ].join("\n");
    case "failed":
      return [
        `✗ ${what}${version ? ` → ${version}` : ""}: ${report.message ?? "failed"}`,
        ...(report.hint ? [`    hint: ${report.hint}`] : []),
      ].join("\n");
    case "abandoned":
      return version
        ? `· ${what} → ${version} pushed; stopped before Flux reported back`
        : `· ${what}: stopped before the push finished`;
  }
}

function pruned(report: CycleReport): string {
  return report.pruned && report.pruned.length > 0 ? `; pruned ${report.pruned.join(", ")}` : "";
}

/** One JSON object per line (JSON Lines), so `ksail workload watch -o json | jq -c` streams. */
export function cycleJson(report: CycleReport): string {
  const timings = Object.fromEntries(
    Object.entries(report.timings).map(([key, value]) => [key, Math.round(value * 10) / 10]),
  );
  return JSON.stringify({ ...report, timings });
}
