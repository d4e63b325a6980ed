/**
 * The browser build's parts, run here on an in-memory File System Access API (memfs's
 * `node-to-fsa`, the same handle interface OPFS has): the WebAssembly SHA-256, the OPFS
 * file system, and the folder transport, checked against the Node API on real files.
 * The same code runs in Chromium in tests/browser/.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as nodeFs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Volume } from "memfs";
import { nodeToFsa } from "memfs/lib/node-to-fsa/index.js";
import {
  BrowserFolderTransport,
  createWasmSha256,
  FSCache,
  type FsaDirectoryHandle,
  FsBackend,
  MemoryMetaStore,
  MemoryTransport,
  OpfsBackend,
  OpfsFileSystem,
  type PickedFile,
} from "../browser.ts";
import { fileSystemFrom, inlineScanner, nodeSha256 } from "../mod.ts";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) nodeFs.rmSync(d, { recursive: true, force: true });
});

const uid = typeof process.getuid === "function" ? process.getuid() : 0;
const gid = typeof process.getgid === "function" ? process.getgid() : 0;

function memoryOpfs(): FsaDirectoryHandle {
  const vol = new Volume();
  vol.mkdirSync("/opfs", { recursive: true });
  return nodeToFsa(vol as never, "/opfs", { mode: "readwrite" }) as unknown as FsaDirectoryHandle;
}

/** Files as `<input webkitdirectory>` hands them over: paths start with the folder's name. */
function picked(folder: string, files: Record<string, string | Uint8Array>, lastModified = 1_700_000_000_000) {
  return Object.entries(files).map(([path, content]) => {
    const file = new File([content as BlobPart], path.split("/").pop() as string, { lastModified });
    Object.defineProperty(file, "webkitRelativePath", { value: `${folder}/${path}` });
    return file as unknown as PickedFile;
  });
}

/** The same files on disk with the modes the OPFS side reports, checksummed by the Node API. */
async function diskChecksum(
  files: Record<string, string | Uint8Array>,
  modeOf: (path: string) => number = () => 0o644,
): Promise<string> {
  const root = nodeFs.mkdtempSync(join(tmpdir(), "fscache-"));
  dirs.push(root);
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    nodeFs.mkdirSync(join(full, ".."), { recursive: true });
    nodeFs.writeFileSync(full, content);
    nodeFs.chmodSync(full, modeOf(path));
  }
  for (const dir of new Set(Object.keys(files).flatMap((p) => parents(p)))) nodeFs.chmodSync(join(root, dir), 0o755);
  const tree = await inlineScanner.scan(fileSystemFrom(nodeFs), root, nodeSha256);
  return tree.hash(".") as string;
}

function parents(path: string): string[] {
  const parts = path.split("/");
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join("/"));
}

describe("WebAssembly SHA-256", () => {
  it("equals node:crypto, also when hashes interleave on the shared instance", async () => {
    const sha256 = await createWasmSha256();
    const big = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 31) % 251);
    const a = sha256();
    const b = sha256();
    a.update("header é");
    b.update(big.subarray(0, 1000));
    a.update(big);
    const c = sha256();
    assert.equal(c.digest(), createHash("sha256").digest("hex"));
    b.update(big.subarray(1000));
    assert.equal(a.digest(), createHash("sha256").update("header é").update(big).digest("hex"));
    assert.equal(b.digest(), createHash("sha256").update(big).digest("hex"));
    assert.throws(() => a.update("again"));
  });
});

describe("OpfsFileSystem", () => {
  it("behaves like a node fs for what fscache uses, and refuses what OPFS cannot hold", async () => {
    const fs = new OpfsFileSystem(memoryOpfs(), { uid: 7, gid: 8 });
    assert.equal(fs.asyncOnly, true);
    await fs.mkdir("/a/b", { recursive: true });
    await fs.writeFile("/a/b/x.txt", "hello");
    assert.equal(await fs.readFile("/a/b/x.txt", "utf8"), "hello");
    assert.deepEqual(await fs.readdir("/a"), ["b"]);
    const st = await fs.lstat("/a/b/x.txt");
    assert.equal(st.mode, 0o100644);
    assert.equal(st.size, 5);
    assert.equal(st.uid, 7);
    assert.equal(st.gid, 8);
    assert.ok(st.isFile() && !st.isDirectory() && !st.isSymbolicLink());
    assert.equal((await fs.lstat("/a")).mode, 0o040755);
    await assert.rejects(fs.lstat("/a/nope"), { code: "ENOENT" });
    await assert.rejects(fs.readdir("/a/b/x.txt"), { code: "ENOTDIR" });
    await assert.rejects(fs.mkdir("/a"), { code: "EEXIST" });
    await assert.rejects(fs.writeFile("/missing/x", "x"), { code: "ENOENT" });
    await assert.rejects(fs.rm("/a"), { code: "EISDIR" });
    await assert.rejects(fs.rmdir("/a"), { code: "ENOTEMPTY" });
    await assert.rejects(fs.unlink("/a"), { code: "EISDIR" });
    await assert.rejects(fs.symlink("x.txt", "/a/l"), { code: "ENOTSUP" });
    await assert.rejects(fs.chmod("/a/b/x.txt", 0o755), { code: "ENOTSUP" });
    await fs.chmod("/a/b/x.txt", 0o644);
    assert.throws(() => fs.readdirSync("/a"), { code: "ERR_SYNC_UNSUPPORTED" });
    await fs.rename("/a/b", "/a/c");
    assert.equal(await fs.readFile("/a/c/x.txt", "utf8"), "hello");
    await assert.rejects(fs.lstat("/a/b"), { code: "ENOENT" });
    await fs.copyFile("/a/c/x.txt", "/a/y.txt");
    await fs.unlink("/a/c/x.txt");
    assert.deepEqual(await fs.readdir("/a/c"), []);
    // (memfs's volume keeps a phantom child after the writable's swap-file rename, so its
    // rmdir of a written-then-emptied directory fails: rmdir is checked on a fresh one.)
    await fs.rm("/a/c", { recursive: true });
    await fs.mkdir("/a/d");
    await fs.rmdir("/a/d");
    assert.deepEqual(await fs.readdir("/a"), ["y.txt"]);
    await fs.rm("/a", { recursive: true });
    await fs.rm("/a", { force: true });
    assert.deepEqual(await fs.readdir("/"), []);
  });
});

describe("FSCache on OPFS with the folder transport", () => {
  it("syncs picked files with the Node API's checksums, copies only changes, and rescans alike", async () => {
    const directory = memoryOpfs();
    const files: Record<string, string | Uint8Array> = {
      "a.txt": "alpha\n",
      "src/main.ts": "console.log(1);\n",
      "src/lib/big.bin": new Uint8Array(2 * 1024 * 1024 + 3).map((_, i) => i % 253),
      "empty.txt": "",
    };
    const backend = new OpfsBackend({ directory, uid, gid });
    const cache = await FSCache.open({ backend, metaStore: new MemoryMetaStore(), gcInterval: 0 });
    const transport = new BrowserFolderTransport();
    cache.registerTransport("folder", transport);

    transport.folder = picked("project", files);
    const first = await cache.syncFrom({ key: "k1", sharedKey: "project", transport: "folder" });
    assert.equal(await first.hash("."), await diskChecksum(files));
    assert.equal(await first.hash("src/main.ts"), (await first.hash("src/main.ts")).replace(/^dir/, "file"));
    assert.deepEqual(transport.lastSummary, {
      added: 6,
      modified: 0,
      deleted: 0,
      unchanged: 0,
      bytesCopied: 6 + 16 + 2 * 1024 * 1024 + 3,
    });
    await first.close();

    const changed = { ...files, "a.txt": "alpha, changed\n", "new/n.txt": "n" } as Record<string, string | Uint8Array>;
    delete changed["src/main.ts"];
    transport.folder = [
      ...picked("project", { "a.txt": changed["a.txt"] as string, "new/n.txt": "n" }, 1_800_000_000_000),
      ...picked("project", { "src/lib/big.bin": files["src/lib/big.bin"] as Uint8Array, "empty.txt": "" }),
    ];
    const second = await cache.syncFrom({ key: "k2", sharedKey: "project", transport: "folder" });
    assert.deepEqual(transport.lastSummary, { added: 2, modified: 1, deleted: 1, unchanged: 4, bytesCopied: 16 });
    const expected = await diskChecksum(changed);
    assert.equal(await second.hash("."), expected);
    // A full rescan of the snapshot (the asynchronous walk) agrees with what was reported.
    const rescanned = await inlineScanner.scan(backend.fs, second.root, await createWasmSha256());
    assert.equal(rescanned.hash("."), expected);
    await second.close();
    const [info] = await cache.sources();
    assert.equal(info?.size, 15 + 1 + 2 * 1024 * 1024 + 3);
    assert.equal(await cache.diskUsage(), info?.size);
    assert.equal(await cache.prune(), info?.size);
    assert.deepEqual(await backend.fs.readdir("/fscache/snapshots"), []);
    await cache.close();
  });

  it("hashes right when a file's mode is not the one predicted from the file before it", async () => {
    // A file system whose files differ in mode (OPFS's never do): every prediction the
    // transport makes from the previous file is wrong here but the last one.
    const inner = new OpfsFileSystem(memoryOpfs(), { uid, gid });
    const lstat = async (path: string) => {
      const st = await inner.lstat(path);
      return path.endsWith(".sh")
        ? Object.assign(Object.create(Object.getPrototypeOf(st)), st, { mode: 0o100755 })
        : st;
    };
    const fs = new Proxy(inner, {
      get(target, name) {
        if (name === "lstat" || name === "stat") return lstat;
        const value = Reflect.get(target, name);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const files = { "a.sh": "#!/bin/sh\n", "b.txt": "b", "c.sh": "c", "d.txt": "d", "e.txt": "e" };
    const cache = await FSCache.open({
      backend: new FsBackend(fs, "/snapshots"),
      metaStore: new MemoryMetaStore(),
      gcInterval: 0,
    });
    cache.registerTransport("folder", new BrowserFolderTransport(picked("p", files)));
    await using src = await cache.syncFrom({ key: "k", transport: "folder" });
    assert.equal(await src.hash("."), await diskChecksum(files, (p) => (p.endsWith(".sh") ? 0o755 : 0o644)));
    await cache.close();
  });

  it("syncs from a directory handle, empty directories included, and runs MemoryTransport too", async () => {
    const pickedRoot = memoryOpfs();
    const source = new OpfsFileSystem(pickedRoot);
    await source.mkdir("/empty/inner", { recursive: true });
    await source.writeFile("/f.txt", "f");
    const backend = new OpfsBackend({ directory: memoryOpfs(), uid, gid });
    const cache = await FSCache.open({ backend, metaStore: new MemoryMetaStore(), gcInterval: 0 });
    cache.registerTransport("folder", new BrowserFolderTransport());
    cache.registerTransport("mem", new MemoryTransport({ "x/": { "y.txt": "y" } }));
    await using fromHandle = await cache.syncFrom({ key: "h", transport: "folder", folder: pickedRoot });
    assert.deepEqual(await backend.fs.readdir(`${fromHandle.root}/empty`), ["inner"]);
    assert.match(await fromHandle.hash("empty/inner"), /^dir:[0-9a-f]{64}$/);
    await using fromMemory = await cache.syncFrom({ key: "m", transport: "mem" });
    assert.equal(await backend.fs.readFile(`${fromMemory.root}/x/y.txt`, "utf8"), "y");
    await cache.close();
  });
});
