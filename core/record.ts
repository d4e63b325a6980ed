/**
 * Shape check for {@linkcode SourceRecord}s read back from a MetaStore: a record that
 * fails it is skipped on load (SPEC §3.3), never trusted.
 * @module
 */
import type { SourceRecord } from "./types.ts";

/**
 * True when `value` is a well-formed record.
 *
 * @example
 * ```ts
 * isValidRecord({ key: "k", sharedKey: "", backendId: "ab12", lastUsed: 0, priority: 0, size: null, stale: false }); // true
 * isValidRecord({ key: "k" }); // false
 * ```
 */
export function isValidRecord(value: unknown): value is SourceRecord {
  if (value === null || typeof value !== "object") return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.key === "string" &&
    r.key.length > 0 &&
    typeof r.sharedKey === "string" &&
    typeof r.backendId === "string" &&
    /^[A-Za-z0-9_-]{1,128}$/.test(r.backendId) &&
    Number.isFinite(r.lastUsed) &&
    Number.isFinite(r.priority) &&
    (r.size === null || (typeof r.size === "number" && r.size >= 0)) &&
    typeof r.stale === "boolean"
  );
}
