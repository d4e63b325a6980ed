#!/usr/bin/env node
/**
 * The npm bin (`dist/cli/bin.cjs`): runs the CLI bundle beside it (`main.cjs`) with a
 * V8 code cache, so a command does not parse and compile the same ~400 kB of
 * JavaScript again on every run. Node 20 has no compile cache of its own
 * (`module.enableCompileCache` came in Node 22); a small no-op sync spent ~25–30 ms of
 * its ~275 ms compiling.
 *
 * The cache is a file beside the bundle, one per Node version and command, written
 * after the first run of that command (so it holds the functions that run compiled)
 * and again after a run down another way of the command (`code_path.ts`: a resync
 * after a first sync), atomically, and only where that directory is writable. Whoever
 * can write there can replace the bundle itself, so trusting the cache adds no one to
 * trust. It is keyed on the bundle's size, mtime and inode (V8 checks only the source's
 * length) and on the Node version (V8 checks its own version and flags, and rejects a
 * cache that fails them: then it is written again). Any failure to read or write it is ignored: the
 * command runs as without it. Deno runs `cli/main.ts` and never loads this.
 *
 * @example
 * ```sh
 * node dist/cli/bin.cjs sync .   # what `npx fscache sync .` runs
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import { closeSync, fstatSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire, Module } from "node:module";
import { dirname, join } from "node:path";
import process from "node:process";
import { Script } from "node:vm";
import { codePath } from "./code_path.ts";

/** This file's own path: the bin is bundled as CommonJS, which provides it. */
declare const __filename: string;

const bundle = join(dirname(__filename), "main.cjs");
// Stat and read through one descriptor, so the key always describes the bytes compiled.
const fd = openSync(bundle, "r");
const stat = fstatSync(fd);
// As Latin-1: one byte per character, so no UTF-8 decoding and a one-byte string for V8,
// ~1–2 ms less of every command's start. esbuild writes code in ASCII (it escapes any
// other character in strings, templates and regular expressions); only its comments keep
// other characters as they are, and a comment read wrong changes nothing.
let source = readFileSync(fd, "latin1");
closeSync(fd);
// The key V8 does not check: a rebuilt bundle of the same length must not reuse the cache.
const key = `${stat.size}:${stat.mtimeMs}:${stat.ino}\n`;
const command = process.argv.slice(2).find((arg) => !arg.startsWith("-")) ?? "";
const cacheFile = `${bundle}.${process.version}.${/^[a-z]{1,16}$/.test(command) ? command : "default"}.cache`;

// After the key, the ways of the command the cache covers (`code_path.ts`), then V8's data.
const PATHS = "paths:";
let cached: Buffer | undefined;
let covered: string[] = [];
try {
  const file = readFileSync(cacheFile);
  const end = file.indexOf(10, key.length);
  const paths = file.subarray(key.length, end).toString("latin1");
  if (file.subarray(0, key.length).toString("latin1") === key && end !== -1 && paths.startsWith(PATHS)) {
    covered = paths.slice(PATHS.length).split(",");
    cached = file.subarray(end + 1);
  }
} catch {
  // no cache yet, or unreadable: compile from source
}

// A server streams hundreds of MB through its heap per push, and V8's default, a heap
// limit grown only a little past what the last full collection left, made ~5 full
// collections per small first push (their marking ~0.2 s of CPU on helper threads).
// Four times what survived (the most V8 chooses itself) left 1–2: the server's CPU per
// push fell ~9% at the same resident memory. Set before the bundle compiles, so the
// serve cache is made and checked under the same flags. Short-lived commands run one
// full collection or none, and keep V8's default.
//
// A push client, which lives a second or two, spent about a third of its CPU time in
// TurboFan compiling its hot functions on V8's helper threads, while the other core
// was busy with the server; a new server, through its first few pushes, ~0.2–0.4 s of
// CPU per push. With less inlined into each function (a budget of 300 bytes of
// bytecode instead of 920), the client's CPU time per small first push fell 6–10% in
// four sets of interleaved pushes, and a new server's over its 2nd–6th pushes ~7%
// (three fresh servers each). Syncs gained nothing from it, and the checksum lost.
// Other commands do not load `node:v8` (it brings `node:stream` in: ~4 ms).
const LESS_INLINING = "--max-inlined-bytecode-size-cumulative=300";
const flags =
  command === "serve" ? `--heap-growing-percent=300 ${LESS_INLINING}` : command === "push" ? LESS_INLINING : "";
if (flags) {
  const v8 = createRequire(__filename)("node:v8") as typeof import("node:v8");
  v8.setFlagsFromString(flags);
}

// The wrapper below makes the bundle a function body, where a `#!` line cannot stand.
if (source.startsWith("#!")) source = `//${source.slice(2)}`;
const script = new Script(Module.wrap(source), { filename: bundle, ...(cached ? { cachedData: cached } : {}) });
const accepted = cached !== undefined && !script.cachedDataRejected;
process.once("exit", () => {
  const path = codePath();
  // Making the data costs ~10–20 ms: only after a first run, a refused cache, or a run
  // down a way the cache does not cover yet (whose functions it then holds as well).
  if (accepted && covered.includes(path)) return;
  writeCache(script.createCachedData(), accepted ? [...covered, path] : [path]);
});

// What Node's CommonJS loader would hand the bundle's wrapper, had it loaded the file itself.
const bundleModule = new Module(bundle);
bundleModule.filename = bundle;
const run = script.runInThisContext() as (...args: unknown[]) => void;
run.call(bundleModule.exports, bundleModule.exports, createRequire(bundle), bundleModule, bundle, dirname(bundle));

/** Writes the code cache (temp file, then rename), or nothing if it cannot. */
function writeCache(data: Buffer, paths: string[]): void {
  const temp = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, Buffer.concat([Buffer.from(`${key}${PATHS}${paths.join(",")}\n`, "latin1"), data]));
    renameSync(temp, cacheFile);
  } catch {
    try {
      rmSync(temp, { force: true });
    } catch {
      // a directory we cannot write: nothing was left there either
    }
  }
}
