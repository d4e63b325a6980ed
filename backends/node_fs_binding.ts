/**
 * Node's internal fs binding, for the few hot calls (`lstat`, `fstat`, `open`, `read`,
 * `close`) whose public wrappers cost more than the system call on a walk or a scan.
 * Each user checks, before it relies on it, that the binding answers as the public
 * function does (`node_lstat.ts`, `node_file_io.ts`).
 * @module
 */
import { env, execArgv, platform, versions } from "node:process";

/**
 * The binding, on Node 20 (POSIX) where touching it prints nothing (it warns under
 * `--pending-deprecation`); `undefined` on any other runtime or version, or if it
 * cannot be had.
 *
 * @example
 * ```ts
 * const lstat = fsBinding()?.lstat; // a function on Node 20, else undefined
 * ```
 */
export function fsBinding(): Record<string, unknown> | undefined {
  if ("Deno" in globalThis || platform === "win32") return undefined;
  if (!versions.node?.startsWith("20.")) return undefined;
  const options = `${execArgv.join(" ")} ${env.NODE_OPTIONS ?? ""}`;
  if (options.includes("--pending-deprecation")) return undefined;
  try {
    return (process as unknown as { binding(name: string): Record<string, unknown> }).binding("fs");
  } catch {
    return undefined;
  }
}
