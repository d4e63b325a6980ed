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
