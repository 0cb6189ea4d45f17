/**
 * The age library (X25519 and its post-quantum recipients, ~290 KB of bundled code), loaded only
 * when a key is used: a push that meets no SOPS file, or finds no local identity, never parses it.
 */
import type * as AgeLibrary from "age-encryption";

export type Age = typeof AgeLibrary;

let loading: Promise<Age> | undefined;

export function loadAge(): Promise<Age> {
  loading ??= import("age-encryption");
  return loading;
}
