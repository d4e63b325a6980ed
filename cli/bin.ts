#!/usr/bin/env node
/**
 * The npm bin (`dist/cli/bin.cjs`): runs the CLI bundle beside it (`main.cjs`) with a
 * V8 code cache, so a command does not parse and compile the same ~400 kB of
 * JavaScript again on every run. Node 20 has no compile cache of its own
 * (`module.enableCompileCache` came in Node 22); a small no-op sync spent ~25–30 ms of
 * its ~275 ms compiling.
 *
 * The cache is a file beside the bundle, one per Node version and command, written
 * after the first run of that command (so it holds the functions that run compiled),
 * atomically, and only where that directory is writable. Whoever can write there can
 * replace the bundle itself, so trusting the cache adds no one to trust. It is keyed
 * on the bundle's size, mtime and inode (V8 checks only the source's length) and on the
 * Node version (V8 checks its own version and flags, and rejects a cache that fails
 * them: then it is written again). Any failure to read or write it is ignored: the
 * command runs as without it. Deno runs `cli/main.ts` and never loads this.
 *
 * @example
 * ```sh
 * node dist/cli/bin.cjs sync .   # what `npx fscache sync .` runs
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import * as fs from "node:fs";
import { createRequire, Module } from "node:module";
import { dirname, join } from "node:path";
import process from "node:process";
import { Script } from "node:vm";

/** This file's own path: the bin is bundled as CommonJS, which provides it. */
declare const __filename: string;

const bundle = join(dirname(__filename), "main.cjs");
// Stat and read through one descriptor, so the key always describes the bytes compiled.
const fd = fs.openSync(bundle, "r");
const stat = fs.fstatSync(fd);
let source = fs.readFileSync(fd, "utf8");
fs.closeSync(fd);
// The key V8 does not check: a rebuilt bundle of the same length must not reuse the cache.
const key = `${stat.size}:${stat.mtimeMs}:${stat.ino}\n`;
const command = process.argv.slice(2).find((arg) => !arg.startsWith("-")) ?? "";
const cacheFile = `${bundle}.${process.version}.${/^[a-z]{1,16}$/.test(command) ? command : "default"}.cache`;

let cached: Buffer | undefined;
try {
  const file = fs.readFileSync(cacheFile);
  if (file.subarray(0, key.length).toString("latin1") === key) cached = file.subarray(key.length);
} catch {
  // no cache yet, or unreadable: compile from source
}

// The wrapper below makes the bundle a function body, where a `#!` line cannot stand.
if (source.startsWith("#!")) source = `//${source.slice(2)}`;
const script = new Script(Module.wrap(source), { filename: bundle, ...(cached ? { cachedData: cached } : {}) });
if (cached === undefined || script.cachedDataRejected) process.once("exit", () => writeCache(script));

// What Node's CommonJS loader would hand the bundle's wrapper, had it loaded the file itself.
const bundleModule = new Module(bundle);
bundleModule.filename = bundle;
const run = script.runInThisContext() as (...args: unknown[]) => void;
run.call(bundleModule.exports, bundleModule.exports, createRequire(bundle), bundleModule, bundle, dirname(bundle));

/** Writes the code cache (temp file, then rename), or nothing if it cannot. */
function writeCache(compiled: Script): void {
  const temp = `${cacheFile}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temp, Buffer.concat([Buffer.from(key, "latin1"), compiled.createCachedData()]));
    fs.renameSync(temp, cacheFile);
  } catch {
    try {
      fs.rmSync(temp, { force: true });
    } catch {
      // a directory we cannot write: nothing was left there either
    }
  }
}
