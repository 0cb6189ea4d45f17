/**
 * org.opencontainers.image.created as `--created` gives it: an RFC 3339 time that exists on the
 * calendar. Go's time.Parse(time.RFC3339, …) — what Flux and other OCI tools read the annotation
 * with — refuses month 13, February 30 or hour 24, and so does ksail, before anything is pushed.
 */
import { KsailError } from "../errors.js";

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$/;

/** Days in `month` (1–12) of `year`, leap years included. */
function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** What is wrong with `text` as an RFC 3339 time, or undefined when it is one. */
export function createdTimeProblem(text: string): string | undefined {
  const m = RFC3339.exec(text);
  if (m === null) return "it is not an RFC 3339 time";
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12) return `there is no month ${m[2]}`;
  if (day < 1 || day > daysIn(year, month)) return `${m[1]}-${m[2]} has no day ${m[3]}`;
  if (hour > 23) return `there is no hour ${m[4]}`;
  if (minute > 59) return `there is no minute ${m[5]}`;
  if (second > 59) return `there is no second ${m[6]}`;
  if (m[9] !== undefined && (Number(m[10]) > 23 || Number(m[11]) > 59)) {
    return `the offset ${m[9]}${m[10]}:${m[11]} is out of range`;
  }
  return undefined;
}

/** `text` when it is a real RFC 3339 time; a usage error naming `flag` otherwise. */
export function assertCreatedTime(text: string, flag = "--created"): string {
  const problem = createdTimeProblem(text);
  if (problem !== undefined) {
    throw new KsailError(
      "usage",
      `${flag} must be an RFC 3339 time such as 2026-01-31T12:00:00Z, got "${text}": ${problem}`,
    );
  }
  return text;
}
