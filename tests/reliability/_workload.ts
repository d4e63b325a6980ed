/**
 * The workload of the reliability scripts: seeded source trees on disk and seeded edits
 * between rounds (rewrites, appends, mode and mtime changes, deletions, new files, dirs
 * and symlinks), so every round gives the cache something different to get right.
 * @module
 */
import * as nodeFs from "node:fs";
import { fileSystemFrom } from "../../core/file_system.ts";
import { assertSameTree, generateTree } from "../_local_helpers.ts";

const MODES = [0o644, 0o755, 0o600, 0o640, 0o444];

/**
 * Writes a seeded tree of `files` files (sizes up to `maxSize`, varied modes and mtimes,
 * nested and empty dirs, relative, absolute and dangling symlinks) at `root`.
 *
 * @example
 * ```ts
 * makeSource("/tmp/src", 7, { files: 40, maxSize: 100_000 });
 * ```
 */
export function makeSource(root: string, seed: number, options: { files?: number; maxSize?: number } = {}): void {
  nodeFs.mkdirSync(root, { recursive: true });
  generateTree(fileSystemFrom(nodeFs), root, seed, options.files ?? 40, options.maxSize ?? 200_000);
}

/** Files and directories below `root` (paths relative to it), symlinks among the files. */
function listEntries(root: string): { files: string[]; dirs: string[] } {
  const files: string[] = [];
  const dirs: string[] = [];
  const walk = (rel: string) => {
    for (const entry of nodeFs.readdirSync(rel ? `${root}/${rel}` : root, { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        dirs.push(path);
        walk(path);
      } else files.push(path);
    }
  };
  walk("");
  return { files: files.sort(), dirs: dirs.sort() };
}

function randomBytes(random: () => number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  // Sparse random bytes: enough to make every file's content distinct, cheap to make.
  for (let i = 0; i < size; i += 61) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

/**
 * Applies `count` seeded edits to the tree at `root`; the tree keeps between roughly
 * `minFiles` and `maxFiles` entries and files stay at most `maxSize` bytes.
 * Returns a one-word label per edit (for logs).
 *
 * @example
 * ```ts
 * editTree("/tmp/src", seededRandom(1), 10);
 * ```
 */
export function editTree(
  root: string,
  random: () => number,
  count: number,
  limits: { minFiles?: number; maxFiles?: number; maxSize?: number } = {},
): string[] {
  const { minFiles = 10, maxFiles = 80, maxSize = 200_000 } = limits;
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)] as T;
  const name = () => `n${Math.floor(random() * 1e9).toString(36)}`;
  const past = () => 1_500_000_000 + Math.floor(random() * 1e8) + Math.floor(random() * 1000) / 1000;
  const done: string[] = [];
  for (let i = 0; i < count; i++) {
    const { files, dirs } = listEntries(root);
    const regular = files.filter((f) => !nodeFs.lstatSync(`${root}/${f}`).isSymbolicLink());
    let op = Math.floor(random() * 9);
    if (files.length >= maxFiles && (op === 4 || op === 6)) op = 3;
    if (files.length <= minFiles && (op === 3 || op === 7)) op = 4;
    if (regular.length === 0 && op <= 3) op = 4;
    const dir = () => {
      const d = pick(["", ...dirs]);
      return d ? `${root}/${d}` : root;
    };
    switch (op) {
      case 0: {
        const file = `${root}/${pick(regular)}`;
        nodeFs.chmodSync(file, 0o644);
        nodeFs.writeFileSync(file, randomBytes(random, Math.floor(random() * random() * maxSize)));
        nodeFs.utimesSync(file, past(), past());
        done.push("rewrite");
        break;
      }
      case 1: {
        const file = `${root}/${pick(regular)}`;
        if (nodeFs.statSync(file).size < maxSize) {
          nodeFs.chmodSync(file, 0o644);
          nodeFs.appendFileSync(file, randomBytes(random, 1 + Math.floor(random() * 5000)));
        }
        done.push("append");
        break;
      }
      case 2:
        nodeFs.chmodSync(`${root}/${pick(regular)}`, pick(MODES));
        done.push("chmod");
        break;
      case 3:
        nodeFs.rmSync(`${root}/${pick(files)}`);
        done.push("delete");
        break;
      case 4: {
        const file = `${dir()}/${name()}.bin`;
        nodeFs.writeFileSync(file, randomBytes(random, Math.floor(random() * random() * maxSize)));
        nodeFs.chmodSync(file, pick(MODES));
        done.push("create");
        break;
      }
      case 5: {
        const link = `${dir()}/${name()}.lnk`;
        nodeFs.symlinkSync(pick(["f1.txt", "../x", "/etc/hostname", "missing", "a/b"]), link);
        done.push("symlink");
        break;
      }
      case 6: {
        const sub = `${dir()}/${name()}`;
        nodeFs.mkdirSync(sub);
        nodeFs.writeFileSync(`${sub}/inside`, randomBytes(random, Math.floor(random() * 20_000)));
        done.push("mkdir");
        break;
      }
      case 7: {
        if (dirs.length > 0) nodeFs.rmSync(`${root}/${pick(dirs)}`, { recursive: true });
        done.push("rmdir");
        break;
      }
      default: {
        const file = `${root}/${pick(regular)}`;
        nodeFs.utimesSync(file, past(), past());
        done.push("touch");
      }
    }
  }
  return done;
}

/**
 * The message of a failed tree comparison (`assertSameTree`): only the entries that differ,
 * snapshot first, then source, each cut short; other errors as they are.
 *
 * @example
 * ```ts
 * try { assertSameTree(disk, src, disk, snap); } catch (err) { console.log(mismatch(err)); }
 * ```
 */
export function mismatch(err: unknown): string {
  const { actual, expected, message } = err as { actual?: unknown; expected?: unknown; message?: string };
  if (!(actual instanceof Map) || !(expected instanceof Map)) return String(message ?? err).slice(0, 800);
  const cut = (v: unknown) => (v === undefined ? "(absent)" : String(v).slice(0, 60));
  const keys = [...new Set([...actual.keys(), ...expected.keys()])].filter((k) => actual.get(k) !== expected.get(k));
  return keys
    .slice(0, 6)
    .map((k) => `${k}: snapshot ${cut(actual.get(k))} / source ${cut(expected.get(k))}`)
    .join("; ");
}

const disk = fileSystemFrom(nodeFs);

/**
 * Throws unless the snapshot at `snapshot` equals the source at `dir`: kinds, modes,
 * contents, link targets, file and directory mtimes.
 *
 * @example
 * ```ts
 * assertSnapshotOf("/src", "/cache/snapshots/ab12");
 * ```
 */
export function assertSnapshotOf(dir: string, snapshot: string): void {
  assertSameTree(disk, dir, disk, snapshot, false);
}
