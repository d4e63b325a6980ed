/**
 * The benchmark trees of bench/sync.ts, shared with bench/push.ts: seeded, so every
 * run and every tool sees the same files.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { seededRandom } from "../tests/_helpers.ts";

/** Source-code-like sizes: log-uniform 32 B–256 KiB plus up to 2 KiB; ~17 KiB mean. */
export function smallSize(random: () => number): number {
  return Math.floor(2 ** (7 + random() * 12) * 0.25 + random() * 2048);
}

/** Sizes of the "many" tree: 100 B–2 KiB. */
export function manySize(random: () => number): number {
  return 100 + Math.floor(random() * 1948);
}

/** Writes `files` files in a 3-level tree below `root`; returns the bytes written. */
export function generate(root: string, files: number, sizeOf: (r: () => number) => number): number {
  const random = seededRandom(files);
  const pool = randomBytes(4 << 20);
  let total = 0;
  for (let i = 0; i < files; i++) {
    const dir = join(root, `d${i % 10}`, `e${Math.floor(i / 10) % 10}`, `f${Math.floor(i / 100) % 10}`);
    if (i < 1000) fs.mkdirSync(dir, { recursive: true });
    const size = sizeOf(random);
    const at = Math.floor(random() * (pool.length - size));
    fs.writeFileSync(join(dir, `file${i}.txt`), pool.subarray(at, at + size));
    total += size;
  }
  return total;
}

/** Rewrites `fraction` of the files (new content, new mtime): what an edit session leaves. */
export function touch(root: string, fraction: number, seed: number): void {
  const random = seededRandom(seed);
  const all = (fs.readdirSync(root, { recursive: true }) as string[]).filter((p) => p.endsWith(".txt"));
  const count = Math.max(1, Math.round(all.length * fraction));
  for (let i = 0; i < count; i++) {
    const path = join(root, all[Math.floor(random() * all.length)] as string);
    fs.appendFileSync(path, `edit ${seed} ${i}\n`);
  }
}
