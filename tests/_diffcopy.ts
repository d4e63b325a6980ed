/** Helpers shared by the diff-copy tests: trees on disk, tree listings, a recording updater. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as nodeFs from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeSha256 } from "../backends/node_sha256.ts";
import { entryChecksum, headerFromStats } from "../core/entry_checksum.ts";
import { type FileSystem, fileSystemFrom } from "../core/file_system.ts";
import { compareWalkOrder } from "../core/names.ts";
import type { CacheUpdater, ChangeKind, EntryStat } from "../core/types.ts";
import { memoryPipe } from "../transports/diffcopy/memory_pipe.ts";
import { type ReceiveOptions, type ReceiveTarget, receiveDiffCopy } from "../transports/diffcopy/receiver.ts";
import { type SendOptions, sendDiffCopy } from "../transports/diffcopy/sender.ts";

export const disk: FileSystem = fileSystemFrom(nodeFs);

/** A temp dir and its cleanup. */
export function tempDir(): { dir: string; [Symbol.dispose](): void } {
  const dir = mkdtempSync(join(tmpdir(), "fscache-"));
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Tree spec: `name/` → dir, string → file, `{ symlink }`, `{ content, mode }`, `{ link }` (hard link). */
export type Spec = Record<string, string | { symlink: string } | { content: string; mode: number } | { link: string }>;

/** Writes a spec below `root` (keys are paths; dirs end in `/`), in the given order. */
export function writeTree(fs: FileSystem, root: string, spec: Spec): void {
  for (const [name, value] of Object.entries(spec)) {
    const full = `${root}/${name.replace(/\/$/, "")}`;
    if (name.endsWith("/")) fs.mkdirSync(full, { recursive: true });
    else if (typeof value === "string") fs.writeFileSync(full, value);
    else if ("symlink" in value) fs.symlinkSync(value.symlink, full);
    else if ("link" in value) fs.linkSync(`${root}/${value.link}`, full);
    else {
      fs.writeFileSync(full, value.content);
      fs.chmodSync(full, value.mode);
    }
  }
}

/** Every entry below `root` in walk order: type, permissions, content digest or link target, file mtime. */
export function listTree(fs: FileSystem, root: string, withMtime = true): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(rel ? `${root}/${rel}` : root).sort(compareWalkOrder)) {
      const path = rel ? `${rel}/${name}` : name;
      const full = `${root}/${path}`;
      const st = fs.lstatSync(full);
      if (st.isDirectory()) {
        out.push(`${path}/ ${(st.mode & 0o7777).toString(8)}`);
        walk(path);
      } else if (st.isSymbolicLink()) out.push(`${path} -> ${fs.readlinkSync(full)}`);
      else {
        const digest = createHash("sha256").update(fs.readFileSync(full)).digest("hex").slice(0, 12);
        const mtime = withMtime ? ` @${Math.floor(st.mtimeMs)}` : "";
        out.push(`${path} ${(st.mode & 0o7777).toString(8)} ${st.size} ${digest}${mtime}`);
      }
    }
  };
  walk("");
  return out;
}

/** Mtimes of the regular files below `root`. */
function fileMtimes(fs: FileSystem, root: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(rel ? `${root}/${rel}` : root)) {
      const path = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(`${root}/${path}`);
      if (st.isDirectory()) walk(path);
      else if (st.isFile()) out.set(path, st.mtimeMs);
    }
  };
  walk("");
  return out;
}

/**
 * Asserts two trees are equal: entries, types, modes, contents, link targets, and file
 * mtimes to within 1 ms (Deno's node-compatible `lstat` reports whole milliseconds).
 */
export function assertSameTree(fs: FileSystem, actual: string, expected: string, expectedFs: FileSystem = fs): void {
  assert.deepEqual(listTree(fs, actual, false), listTree(expectedFs, expected, false));
  const want = fileMtimes(expectedFs, expected);
  for (const [path, mtime] of fileMtimes(fs, actual)) {
    const diff = Math.abs(mtime - (want.get(path) ?? Number.NaN));
    assert.ok(diff <= 1, `mtime of ${path} differs by ${diff} ms`);
  }
}

/** Entry checksums of a tree on disk (what a rescan gives), path → hex. */
export function scanChecksums(fs: FileSystem, root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(rel ? `${root}/${rel}` : root)) {
      const path = rel ? `${rel}/${name}` : name;
      const full = `${root}/${path}`;
      const st = fs.lstatSync(full);
      const link = st.isSymbolicLink() ? fs.readlinkSync(full) : undefined;
      const header = headerFromStats(path, st, link);
      if (header) out.set(path, entryChecksum(nodeSha256, header, st.isFile() ? fs.readFileSync(full) : undefined));
      if (st.isDirectory()) walk(path);
    }
  };
  walk("");
  return out;
}

/** One reported change. */
export interface Change {
  kind: ChangeKind;
  path: string;
  checksum?: string;
  stat?: EntryStat;
}

/** An updater that records what it is told. */
export function recordingUpdater(): CacheUpdater & { changes: Change[]; supported: boolean } {
  const changes: Change[] = [];
  const updater = {
    changes,
    supported: false,
    sha256: nodeSha256,
    markSupported(s: boolean) {
      updater.supported = s;
    },
    handleChange(kind: ChangeKind, path: string, checksum?: string, stat?: EntryStat) {
      changes.push({ kind, path, checksum, stat });
    },
  };
  return updater;
}

/** Sends `src` to `dest` over an in-memory pipe. */
export async function pipeSync(
  send: Omit<SendOptions, "signal">,
  target: Omit<ReceiveTarget, "updater"> & { updater?: CacheUpdater },
  options: ReceiveOptions = {},
) {
  const [a, b] = memoryPipe();
  const updater = (target.updater ?? recordingUpdater()) as ReturnType<typeof recordingUpdater>;
  const [sent, received] = await Promise.all([
    sendDiffCopy(a, send),
    receiveDiffCopy(b, { ...target, updater }, options),
  ]);
  return { sent, received, updater };
}
