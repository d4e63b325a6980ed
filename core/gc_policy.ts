/**
 * Which idle snapshots garbage collection deletes (SPEC §3.2): first those unused
 * for longer than `maxKeepDuration`, then the least recently used until the idle
 * total fits in `maxSize`.
 * @module
 */
import { FSCacheError } from "./errors.ts";
import type { GCPolicy } from "./types.ts";

/** The seed daemon's defaults: 512 MiB of idle snapshots, kept at most 7 days. */
export const DEFAULT_GC_POLICY: Readonly<GCPolicy> = Object.freeze({
  maxSize: 512 * 1024 * 1024,
  maxKeepDuration: 7 * 24 * 60 * 60 * 1000,
});

/** An idle snapshot as the policy sees it. */
export interface GcCandidate {
  key: string;
  lastUsed: number;
  size: number;
}

/**
 * Keys to delete, in deletion order.
 *
 * @example
 * ```ts
 * selectGcVictims([{ key: "a", lastUsed: 1, size: 10 }, { key: "b", lastUsed: 2, size: 8 }],
 *   { maxSize: 15, maxKeepDuration: 3600_000 }, 3); // ["a"]
 * ```
 */
export function selectGcVictims(idle: readonly GcCandidate[], policy: GCPolicy, now: number): string[] {
  const cutoff = now - policy.maxKeepDuration;
  const victims: string[] = [];
  const kept: GcCandidate[] = [];
  for (const c of idle) {
    if (c.lastUsed < cutoff) victims.push(c.key);
    else kept.push(c);
  }
  kept.sort((a, b) => a.lastUsed - b.lastUsed);
  let total = kept.reduce((sum, c) => sum + c.size, 0);
  for (const c of kept) {
    if (total <= policy.maxSize) break;
    victims.push(c.key);
    total -= c.size;
  }
  return victims;
}

/** Fills in defaults and rejects nonsense (negative or non-numeric limits). */
export function resolveGcPolicy(policy: Partial<GCPolicy> = {}): GCPolicy {
  const resolved = { ...DEFAULT_GC_POLICY, ...policy };
  for (const [name, value] of Object.entries(resolved)) {
    if (typeof value !== "number" || !(value >= 0)) {
      throw new FSCacheError(
        "ERR_INVALID_OPTION",
        `gcPolicy.${name} must be a non-negative number, got ${String(value)}`,
      );
    }
  }
  return resolved;
}
