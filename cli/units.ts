/**
 * Human sizes and durations on the command line: `512MiB`, `2GB`, `90s`, `12h`, `7d`.
 * @module
 */
import { UsageError } from "./command.ts";

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  kib: 2 ** 10,
  m: 1e6,
  mb: 1e6,
  mib: 2 ** 20,
  g: 1e9,
  gb: 1e9,
  gib: 2 ** 30,
  t: 1e12,
  tb: 1e12,
  tib: 2 ** 40,
};

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Bytes in a size like `512MiB`, `2GB`, `1.5g` or `1024` (decimal units are powers of
 * 1000, binary ones of 1024). Throws a {@linkcode UsageError} naming `option`.
 *
 * @example
 * ```ts
 * parseSize("512MiB"); // 536870912
 * ```
 */
export function parseSize(text: string, option = "size"): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const factor = match ? SIZE_UNITS[(match[2] ?? "").toLowerCase()] : undefined;
  if (!match || factor === undefined) {
    throw new UsageError(`${option}: ${JSON.stringify(text)} is not a size (e.g. 512MiB, 2GB, 1024)`);
  }
  return Math.round(Number(match[1]) * factor);
}

/**
 * Milliseconds in a duration like `90s`, `12h`, `7d`, `500ms`, or `1h30m`.
 *
 * @example
 * ```ts
 * parseDuration("7d"); // 604800000
 * ```
 */
export function parseDuration(text: string, option = "duration"): number {
  const parts = [...text.trim().matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy)];
  const consumed = parts.map((p) => p[0]).join("");
  if (parts.length === 0 || consumed !== text.trim()) {
    throw new UsageError(`${option}: ${JSON.stringify(text)} is not a duration (e.g. 90s, 12h, 7d)`);
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * (DURATION_UNITS[p[2] as string] as number), 0);
}

/**
 * A byte count for people: `0 B`, `5 B`, `1.5 KiB`, `146.0 MiB`.
 *
 * @example
 * ```ts
 * formatBytes(1536); // "1.5 KiB"
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * How long ago a time was, for people: `just now`, `42s ago`, `3m ago`, `5h ago`, `2d ago`.
 *
 * @example
 * ```ts
 * formatAge(Date.now() - 90_000, Date.now()); // "1m ago"
 * ```
 */
export function formatAge(then: number, now: number): string {
  const s = Math.floor((now - then) / 1000);
  if (s < 1) return "just now";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/**
 * Parses a `HOST:PORT` option (`[::1]:7373` for IPv6); anything else is a usage error.
 *
 * @example
 * ```ts
 * parseHostPort("127.0.0.1:7373", "--listen"); // { host: "127.0.0.1", port: 7373 }
 * ```
 */
export function parseHostPort(text: string, option: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || !(port >= 0 && port <= 65535)) {
    throw new UsageError(`${option}: expected HOST:PORT ([::1]:PORT for IPv6), got ${JSON.stringify(text)}`);
  }
  return { host: (match[1] ?? match[2]) as string, port };
}

/**
 * A non-negative integer option (a count, e.g. `--max-entries`).
 *
 * @example
 * ```ts
 * parseCount("1000", "--max-entries"); // 1000
 * ```
 */
export function parseCount(text: string, option: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isSafeInteger(n) || n < 0) {
    throw new UsageError(`${option} must be a non-negative integer, not ${JSON.stringify(text)}`);
  }
  return n;
}
