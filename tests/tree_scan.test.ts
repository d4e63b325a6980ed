/** SPEC §4.1/§4.3: full scans agree in memory and on disk, name non-UTF-8 files by their bytes, stream big files. */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as nodeFs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Volume } from "memfs";
import { type FileSystem, fileSystemFrom, inlineScanner, nodeSha256, scanWithWorkers, workerScanner } from "../mod.ts";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) nodeFs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = nodeFs.mkdtempSync(join(tmpdir(), "fscache-"));
  dirs.push(d);
  return d;
}

/** The same tree, with explicit modes, on any node-style file system. */
function buildTree(fs: FileSystem, root: string): void {
  fs.mkdirSync(`${root}/dir/sub`, { recursive: true });
  fs.writeFileSync(`${root}/foo`, "data");
  fs.writeFileSync(`${root}/e`, "");
  fs.writeFileSync(`${root}/dir/a`, "A");
  fs.writeFileSync(`${root}/dir/sub/test`, "contents test");
  fs.writeFileSync(`${root}/foo.2`, "x".repeat(3000));
  fs.symlinkSync("target", `${root}/lnk`);
  for (const d of [root, `${root}/dir`, `${root}/dir/sub`]) fs.chmodSync(d, 0o755);
  for (const f of ["foo", "e", "dir/a", "foo.2"]) fs.chmodSync(`${root}/${f}`, 0o644);
  fs.chmodSync(`${root}/dir/sub/test`, 0o755);
}

const KNOWN: Record<string, string> = {
  foo: "68173f04924e92e07fd07f1eb85feeeee450728008861ecf7b85de475b0fef74",
  e: "4878f6658e95238c4637a18a5193396620e0fcbe1c73ea375d608a6ade41f16c",
  dir: "6ef733e27d7e19cd509d8fd57b92ac90672e5137a6352a96a9f0a2153e320658",
  "dir/a": "6fbc54d998e31a24730876090786c29fe60166132a04f04484e4657387bba1e0",
  lnk: "ecb48bbdfb9e0ee956b28be4be63b38c5056fa62efbab63a324163249c3ed1b3",
};

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

describe("full scans", () => {
  it("memfs (inline) and disk (workers) give equal trees, with SPEC's known answers", async () => {
    const vol = new Volume();
    const mem = fileSystemFrom(vol);
    mem.mkdirSync("/snap", { recursive: true });
    buildTree(mem, "/snap");
    const root = tempDir();
    const disk = fileSystemFrom(nodeFs);
    buildTree(disk, root);
    const inMemory = await workerScanner.scan(mem, "/snap", nodeSha256); // not the disk: runs inline
    const onDisk = await workerScanner.scan(disk, root, nodeSha256);
    const view = (t: typeof onDisk) => [...t.entries()].map(([p, e]) => [p, e.checksum]);
    // Owner ids enter the checksum: compare with memfs only when both are root's.
    if (isRoot) assert.deepEqual(view(onDisk), view(inMemory));
    for (const tree of isRoot ? [inMemory, onDisk] : [inMemory]) {
      for (const [path, expected] of Object.entries(KNOWN)) assert.equal(tree.get(path)?.checksum, expected, path);
    }
    assert.deepEqual(
      view(onDisk).map(([p]) => p),
      ["dir", "dir/a", "dir/sub", "dir/sub/test", "e", "foo", "foo.2", "lnk"],
    );
    assert.deepEqual(view(await inlineScanner.scan(disk, root, nodeSha256)), view(onDisk));
    assert.equal(onDisk.get("lnk")?.stat?.linkname, "target");
  });

  it("hashes non-UTF-8 names by their bytes", async () => {
    const root = tempDir();
    const raw = Buffer.from([0x6e, 0xff, 0x2e, 0x62, 0x69, 0x6e]); // "n\xff.bin"
    nodeFs.writeFileSync(Buffer.concat([Buffer.from(`${root}/`), raw]), "data");
    // Deno's node:fs turns byte paths into text (0xff becomes U+FFFD), so there the file
    // really has the UTF-8 name "n\ufffd.bin"; Node creates the raw bytes.
    const [onDisk] = nodeFs.readdirSync(root, { encoding: "buffer" }) as Buffer[];
    const bytes = onDisk as Buffer;
    nodeFs.chmodSync(Buffer.concat([Buffer.from(`${root}/`), bytes]), 0o644);
    const tree = await scanWithWorkers(root, nodeSha256);
    const [[path, entry]] = [...tree.entries()] as [[string, { checksum: string }]];
    assert.equal(path, bytes.equals(raw) ? "n\udcff.bin" : "n\ufffd.bin");
    const st = nodeFs.lstatSync(Buffer.concat([Buffer.from(`${root}/`), bytes]));
    const h = nodeSha256();
    const rest = `mode33188uid${st.uid}gid${st.gid}size4typeflag0linknameunamegnamedevmajor0devminor0data`;
    h.update(Buffer.concat([Buffer.from("name"), bytes, Buffer.from(rest)]));
    assert.equal(entry.checksum, h.digest());
  });

  it("spreads a big flat directory over the workers and finds every file", async () => {
    const root = tempDir();
    for (let i = 0; i < 1500; i++) nodeFs.writeFileSync(`${root}/f${i}`, String(i));
    const tree = await scanWithWorkers(root, nodeSha256);
    assert.equal(tree.size, 1500);
    assert.deepEqual(
      tree.get("f77")?.checksum,
      (await inlineScanner.scan(fileSystemFrom(nodeFs), root, nodeSha256)).get("f77")?.checksum,
    );
  });

  it("fails with ERR_SOURCE_CHANGED and the path for a file that shrank while it was hashed", async () => {
    const root = tempDir();
    nodeFs.writeFileSync(`${root}/log`, "0123456789");
    const disk = fileSystemFrom(nodeFs);
    // The scan is told the file is longer than it is, as if it shrank after its lstat.
    const fs: FileSystem = {
      ...disk,
      lstatSync: ((path: string) => {
        const st = disk.lstatSync(path);
        if (!path.endsWith("/log")) return st;
        return Object.assign(Object.create(Object.getPrototypeOf(st)), st, { size: 20 });
      }) as FileSystem["lstatSync"],
    };
    await assert.rejects(inlineScanner.scan(fs, root, nodeSha256), {
      code: "ERR_SOURCE_CHANGED",
      path: `${root}/log`,
      message: `file shrank while it was hashed: ${root}/log`,
    });
  });

  it("hashes a 300 MB file in bounded memory", async () => {
    const root = tempDir();
    const size = 300 * 1024 * 1024;
    const fd = nodeFs.openSync(`${root}/big`, "w");
    // Non-zero data at both ends, sparse in between: cheap to make, and every byte is read.
    nodeFs.writeSync(fd, Buffer.from("head"), 0, 4, 0);
    nodeFs.writeSync(fd, Buffer.from("tail"), 0, 4, size - 4);
    nodeFs.closeSync(fd);
    nodeFs.chmodSync(`${root}/big`, 0o644);
    const disk = fileSystemFrom(nodeFs);
    // maxRSS is the process's high-water mark: a scan that held the file would raise it by ~300 MB.
    const peakRss = () => Math.max(process.resourceUsage().maxRSS * 1024, process.memoryUsage().rss);
    const before = peakRss();
    const tree = await inlineScanner.scan(disk, root, nodeSha256);
    const grown = peakRss() - before;
    assert.ok(grown < 64 * 1024 * 1024, `peak RSS grew by ${(grown / 1048576).toFixed(1)} MiB`);
    const st = nodeFs.lstatSync(`${root}/big`);
    const h = nodeSha256();
    h.update(`namebigmode33188uid${st.uid}gid${st.gid}size${size}typeflag0linknameunamegnamedevmajor0devminor0head`);
    const zeros = new Uint8Array(1024 * 1024);
    let left = size - 8;
    while (left > 0) {
      const n = Math.min(left, zeros.length);
      h.update(zeros.subarray(0, n));
      left -= n;
    }
    h.update("tail");
    assert.equal(tree.get("big")?.checksum, h.digest());
    // The worker path streams too; its memory is the worker's, so check its answer only.
    assert.equal((await scanWithWorkers(root, nodeSha256)).get("big")?.checksum, tree.get("big")?.checksum);
  });
});
