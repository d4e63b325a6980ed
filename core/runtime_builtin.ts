/**
 * Reaching the runtime's own modules from the core without importing them.
 * @module
 */

/**
 * A module of the runtime (Node, Deno) looked up through `process.getBuiltinModule`
 * rather than imported, so the core stays free of `node:` imports and runs in browsers,
 * where this answers `undefined` (as it does for a `process` that only looks like Node's).
 *
 * @example
 * ```ts
 * const zlib = runtimeBuiltin<{ crc32?: (data: Uint8Array) => number }>("node:zlib");
 * zlib?.crc32?.(new Uint8Array(8));
 * ```
 */
export function runtimeBuiltin<T>(id: string): T | undefined {
  try {
    const host = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    return host?.getBuiltinModule?.(id) as T | undefined;
  } catch {
    return undefined;
  }
}

/** The part of Node's `process` that {@linkcode runtimeBinding} reads. */
interface NodeProcess {
  platform?: string;
  versions?: { node?: string };
  execArgv?: string[];
  env?: Record<string, string | undefined>;
  binding?: (name: string) => Record<string, unknown>;
}

/**
 * One of Node's internal bindings (`process.binding(name)`), for the few hot calls
 * whose public wrappers cost more than the work. Only on Node 20 (POSIX), whose
 * bindings' signatures were checked, and not under `--pending-deprecation`, where
 * touching one prints a warning; `undefined` on any other runtime or version, or if
 * it cannot be had. A binding is not a public API: each user checks that it answers
 * as the public function does before relying on it.
 *
 * @example
 * ```ts
 * const lstat = runtimeBinding("fs")?.lstat; // a function on Node 20, else undefined
 * ```
 */
export function runtimeBinding(name: string): Record<string, unknown> | undefined {
  if ("Deno" in globalThis) return undefined;
  const host = (globalThis as { process?: NodeProcess }).process;
  if (host === undefined || host.platform === "win32" || !host.versions?.node?.startsWith("20.")) return undefined;
  const options = `${host.execArgv?.join(" ") ?? ""} ${host.env?.NODE_OPTIONS ?? ""}`;
  if (options.includes("--pending-deprecation")) return undefined;
  try {
    return host.binding?.(name);
  } catch {
    return undefined;
  }
}
