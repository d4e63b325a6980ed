/** The checksum-only scan behind `fscache checksum` equals the full scan's tree, however the work was split. */
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { dirChecksumOfPacked } from "../backends/dir_checksum.ts";
import { checksumWithWorkers, closeScanWorkers } from "../backends/worker_scanner.ts";
import { fileSystemFrom, HashTree, inlineScanner, nodeSha256, scanWithWorkers } from "../mod.ts";

const dirs: string[] = [];
after(async () => {
  await closeScanWorkers();
  for (const d of dirs) nodeFs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = nodeFs.mkdtempSync(join(tmpdir(), "fscache-"));
  dirs.push(d);
  return d;
}

/** Deep and wide at once: more entries than one task's budget, a directory bigger than one batch, and a file bigger than the read buffer. */
function buildTree(root: string): void {
  for (let d = 0; d < 12; d++) {
    for (let s = 0; s < 6; s++) {
      const dir = `${root}/d${d}/s${s}`;
      nodeFs.mkdirSync(dir, { recursive: true });
      for (let f = 0; f < 12; f++) nodeFs.writeFileSync(`${dir}/f${f}`, `${d}/${s}/${f}`.repeat(f * 7));
    }
  }
  nodeFs.mkdirSync(`${root}/flat`);
  for (let f = 0; f < 700; f++) nodeFs.writeFileSync(`${root}/flat/${f}`, String(f));
  nodeFs.mkdirSync(`${root}/empty`);
  nodeFs.writeFileSync(`${root}/big`, Buffer.alloc(1024 * 1024 + 5, 7));
  nodeFs.writeFileSync(`${root}/nearly-big`, Buffer.alloc(1024 * 1024 - 40, 3));
  nodeFs.symlinkSync("d0/s0/f1", `${root}/link`);
}

describe("checksum-only scan", () => {
  it("gives the full scan's dir: checksum and entry count, with or without the calling thread", async () => {
    const root = tempDir();
    buildTree(root);
    const inline = await inlineScanner.scan(fileSystemFrom(nodeFs), root, nodeSha256);
    const expected = { checksum: inline.hash(".") as string, entries: inline.size };
    assert.equal(expected.entries, 12 + 72 + 864 + 1 + 700 + 1 + 3);
    assert.deepEqual(await checksumWithWorkers(root), expected);
    assert.deepEqual(await checksumWithWorkers(root, { useCallingThread: true }), expected);
    const view = (t: HashTree) => [...t.entries()].map(([p, e]) => [p, e.checksum, e.stat]);
    const helped = await scanWithWorkers(root, nodeSha256, { useCallingThread: true });
    assert.deepEqual(view(helped), view(inline));
    assert.deepEqual(view(await scanWithWorkers(root, nodeSha256)), view(inline));
  });

  it("of an empty directory is the digest of nothing", async () => {
    const root = tempDir();
    const empty = new HashTree(nodeSha256);
    assert.deepEqual(await checksumWithWorkers(root, { useCallingThread: true }), {
      checksum: empty.hash("."),
      entries: 0,
    });
  });

  it("fails with the path for a missing directory", async () => {
    const missing = join(tempDir(), "nope");
    await assert.rejects(checksumWithWorkers(missing, { useCallingThread: true }), { code: "ENOENT" });
  });
});

describe("dirChecksumOfPacked", () => {
  it("equals HashTree's dir: digest, equal prefixes and repeats included, however the sums are packed", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom("00000000", "0000000f", "ffffffff", "a0000000", "9fffffff"),
            fc.stringMatching(/^[0-9a-f]{56}$/),
          ),
          { maxLength: 80 },
        ),
        fc.integer({ min: 1, max: 7 }),
        (parts, per) => {
          const sums = parts.map(([p, h]) => p + h);
          const tree = new HashTree(nodeSha256);
          sums.forEach((sum, i) => void tree.apply("add", `f${i}`, sum));
          const packed: string[] = [];
          for (let i = 0; i < sums.length; i += per) packed.push(sums.slice(i, i + per).join(""));
          assert.equal(dirChecksumOfPacked(packed), tree.hash("."));
        },
      ),
    );
  });
});
