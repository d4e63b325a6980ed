/**
 * A source synced under one runtime and resynced under the other: Deno's `node:fs` reads
 * mtimes to the millisecond, Node's to the nanosecond. The resync must move nothing
 * that did not change, and still see what did. Both precisions are simulated over the
 * disk (every mtime here is set with the same part below the millisecond, which a
 * source file system puts back or leaves out), so both directions run on either runtime.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FileStats, FileSystem } from "../core/file_system.ts";
import { fileSystemFrom, LocalTransport } from "../mod.ts";
import { RecordingTree, syncOnce } from "./_local_helpers.ts";

const disk = fileSystemFrom(fs);
/** Mtimes in seconds with a part below the millisecond (0.456 ms), as files written on ext4 have. */
const T = 1_700_000_000.123456;
const SUB_MS = 0.456;

/** `files` with every `lstat` mtime read through `mtime`. */
function withMtimes(files: FileSystem, mtime: (ms: number) => number): FileSystem {
  return new Proxy(files, {
    get(target, name, receiver) {
      if (name !== "lstatSync") return Reflect.get(target, name, receiver);
      return (path: string) => {
        const stats = target.lstatSync(path);
        return new Proxy(stats, {
          get: (s, key) => {
            if (key === "mtimeMs") return mtime(s.mtimeMs);
            const value = Reflect.get(s, key, s);
            return typeof value === "function" ? value.bind(s) : value;
          },
        }) as FileStats;
      };
    },
  });
}

let work = "";
let src = "";

function setTimes(): void {
  for (const name of ["a.txt", "b.txt", "sub/c.txt", "sub"]) fs.utimesSync(join(src, name), T, T);
  fs.utimesSync(src, T, T);
}

before(() => {
  work = mkdtempSync(join(tmpdir(), "fscache-mtime-"));
  src = join(work, "src");
  fs.mkdirSync(join(src, "sub"), { recursive: true });
  fs.writeFileSync(join(src, "a.txt"), "alpha");
  fs.writeFileSync(join(src, "b.txt"), "bravo");
  fs.writeFileSync(join(src, "sub/c.txt"), "charlie");
  setTimes();
});
after(() => rmSync(work, { recursive: true, force: true }));

// Node's reading (the part below the millisecond, which Deno's `node:fs` drops, put back)
const fine = new LocalTransport({ sourceFs: withMtimes(disk, (ms) => Math.floor(ms) + SUB_MS), threads: false });
// Deno's reading
const coarse = new LocalTransport({ sourceFs: withMtimes(disk, Math.floor), threads: false });

describe("LocalTransport: a source recorded at another mtime precision", () => {
  for (const [first, then] of [
    ["fine", "coarse"],
    ["coarse", "fine"],
  ] as const) {
    it(`recorded ${first}, resynced ${then}: nothing moves, and a change still does`, async () => {
      const transports = { fine, coarse };
      const dest = join(work, `snap-${first}`);
      fs.mkdirSync(dest);
      setTimes();
      const tree = await syncOnce(transports[first], src, dest, disk, new RecordingTree());
      assert.deepEqual(tree.summary(), ["add a.txt", "add b.txt", "add sub/c.txt"]);
      await syncOnce(transports[then], src, dest, disk, tree, { previous: true });
      assert.deepEqual(tree.summary({ dirs: true }), [], "a no-op resync");
      // Same size, 3 ms later: the millisecond both runtimes see moves.
      fs.writeFileSync(join(src, "b.txt"), "BRAVO");
      fs.utimesSync(join(src, "b.txt"), T, T + 0.003);
      await syncOnce(transports[then], src, dest, disk, tree, { previous: true });
      assert.deepEqual(tree.summary(), ["modify b.txt"]);
      assert.equal(fs.readFileSync(join(dest, "b.txt"), "utf8"), "BRAVO");
      fs.writeFileSync(join(src, "b.txt"), "bravo");
    });
  }
});
