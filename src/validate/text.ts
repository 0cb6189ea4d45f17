/** Byte-level checks of source files: binary content and UTF-8 validity, with line numbers. */
import { isUtf8 } from "node:buffer";

/** 1-based line of a byte offset (counts "\n" before it). */
export function lineAtByte(data: Buffer, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < data.length; i++) if (data[i] === 0x0a) line++;
  return line;
}

/** Offset of the first byte that makes `data` invalid UTF-8, or -1 when it is valid. */
export function firstInvalidUtf8(data: Buffer): number {
  if (isUtf8(data)) return -1;
  let i = 0;
  const n = data.length;
  while (i < n) {
    const b = data[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else {
      return i;
    }
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = data[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** UTF-8 text without a byte-order mark. */
export function decode(data: Buffer): string {
  const text = data.toString("utf8");
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** An alias (`*name`) where YAML allows one; quoted text and comments may give false hits. */
const ALIAS = /(?:^|[\s[{,:-])\*[^\s,[\]{}]/m;

export function hasAliases(text: string): boolean {
  // An alias needs an anchor (`&name`); an alias to an unknown anchor is a syntax error anyway.
  return text.includes("&") && text.includes("*") && ALIAS.test(text);
}
