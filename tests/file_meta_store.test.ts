/** FileMetaStore beyond the shared suite: the root lock, recovery from what a crash or damage leaves, the layout. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { describe, it } from "node:test";
import { decodeTree, encodeRecord, encodeTree } from "../backends/_meta_files.ts";
import { CACHEDIR_TAG, FileMetaStore, FSCache, FSCacheError, type SourceRecord } from "../mod.ts";
import { childResult, spawnFixture, waitForLine } from "./_child.ts";
import { recordingLogger } from "./_helpers.ts";

const record = (key: string, backendId: string, extra: Partial<SourceRecord> = {}): SourceRecord => ({
  key,
  sharedKey: "s",
  backendId,
  lastUsed: 1,
  priority: 0,
  size: 3,
  stale: false,
  ...extra,
});

async function withRoot(body: (root: string) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "fscache-"));
  try {
    await body(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const isLocked = (pid: number) => (err: unknown) =>
  err instanceof FSCacheError && err.code === "ERR_LOCKED" && err.message.includes(`process ${pid}`);

/** A pid that certainly belonged to a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawnFixture("open_root", []);
  const pid = child.pid!;
  child.kill("SIGKILL");
  await childResult(child);
  return pid;
}

describe("FileMetaStore lock", () => {
  it("a second store on the same root in this process fails at once, naming our pid; close releases it", () =>
    withRoot(async (root) => {
      const first = new FileMetaStore(root);
      assert.throws(() => new FileMetaStore(root), isLocked(process.pid));
      await first.close();
      assert.equal(existsSync(join(root, "lock")), false);
      const second = new FileMetaStore(root);
      await second.close();
    }));

  it("a second cache reaching the root through a symlink fails too; each lock's text is its own", () =>
    withRoot(async (root) => {
      const real = join(root, "cache");
      const first = await FSCache.open({ root: real, gcInterval: 0 });
      symlinkSync(real, join(root, "alias"));
      await assert.rejects(FSCache.open({ root: join(root, "alias"), gcInterval: 0 }), isLocked(process.pid));
      const text = readFileSync(join(real, "lock"), "utf8");
      await first.close();
      const second = await FSCache.open({ root: join(root, "alias"), gcInterval: 0 });
      assert.notEqual(readFileSync(join(real, "lock"), "utf8"), text, "a new lock, not a copy of the old one");
      await second.close();
      assert.equal(existsSync(join(real, "lock")), false);
    }));

  it("takes over the lock of a holder that has exited but is not yet reaped (a zombie)", () =>
    withRoot(async (root) => {
      // `exec sleep` never reaps the background child, which stays a zombie until it ends.
      // The child exits only once its parent is `sleep`: had it exited before the `exec`,
      // the shell could have reaped it, and its pid would be gone rather than a zombie.
      const child = `while [ "$(cat /proc/$PPID/comm)" != sleep ]; do sleep 0.01; done`;
      const parent = spawn("sh", ["-c", `sh -c '${child}' & echo $!; exec sleep 30`], {
        stdio: ["ignore", "pipe", "ignore"],
      });
      try {
        const [line] = await once(parent.stdout, "data");
        const pid = Number(String(line).trim());
        const stat = () => readFileSync(`/proc/${pid}/stat`, "utf8");
        while (!stat().includes(") Z ")) await new Promise((r) => setTimeout(r, 10));
        const start = stat()
          .slice(stat().lastIndexOf(")") + 2)
          .split(" ")[19];
        writeFileSync(join(root, "lock"), JSON.stringify({ pid, start, host: hostname() }));
        const store = new FileMetaStore(root);
        assert.equal(JSON.parse(readFileSync(join(root, "lock"), "utf8")).pid, process.pid);
        await store.close();
      } finally {
        parent.kill("SIGKILL");
      }
    }));

  it("another process opening a locked root fails with ERR_LOCKED naming the holder's pid", () =>
    withRoot(async (root) => {
      const cache = await FSCache.open({ root, gcInterval: 0 });
      try {
        const child = spawnFixture("open_root", [root]);
        const result = await childResult(child);
        const reply = JSON.parse(result.stdout);
        assert.equal(reply.ok, false, result.stderr);
        assert.equal(reply.code, "ERR_LOCKED");
        assert.match(reply.message, new RegExp(`process ${process.pid}\\b`));
      } finally {
        await cache.close();
      }
    }));

  it("this process fails while another holds the root, and takes the lock over once that one is killed", () =>
    withRoot(async (root) => {
      const child = spawnFixture("open_root", [root, "hold"]);
      const done = childResult(child);
      try {
        assert.equal(await waitForLine(child, JSON.stringify({ ok: true, pid: child.pid })), true);
        await assert.rejects(FSCache.open({ root }), isLocked(child.pid!));
      } finally {
        child.kill("SIGKILL");
        await done;
      }
      const cache = await FSCache.open({ root, gcInterval: 0 });
      assert.equal(JSON.parse(readFileSync(join(root, "lock"), "utf8")).pid, process.pid);
      await cache.close();
    }));

  it("takes over stale locks: dead pid, reused pid, our own pid from an earlier process, unreadable", () =>
    withRoot(async (root) => {
      const stale = [
        { pid: await deadPid(), start: null, host: hostname() },
        { pid: 1, start: "not-the-start-time-of-pid-1", host: hostname() },
        { pid: process.pid, start: null, host: hostname() },
      ].map((holder) => JSON.stringify(holder));
      for (const content of [...stale, "", "{garbage"]) {
        writeFileSync(join(root, "lock"), content);
        const store = new FileMetaStore(root);
        assert.equal(JSON.parse(readFileSync(join(root, "lock"), "utf8")).pid, process.pid, content);
        await store.close();
      }
      assert.deepEqual(readdirSync(root).sort(), ["meta"], "no temp or stale lock files left behind");
    }));

  it("a live holder, or one on another host, keeps the lock", () =>
    withRoot(async (root) => {
      writeFileSync(join(root, "lock"), JSON.stringify({ pid: 1, start: null, host: hostname() }));
      assert.throws(() => new FileMetaStore(root), isLocked(1));
      writeFileSync(join(root, "lock"), JSON.stringify({ pid: 999_999_999, start: null, host: "elsewhere" }));
      assert.throws(() => new FileMetaStore(root), /process 999999999 on host elsewhere/);
    }));
});

describe("FileMetaStore recovery", () => {
  it("skips damaged records with a warning, moves them to quarantine, and loads the rest", () =>
    withRoot(async (root) => {
      const store = new FileMetaStore(root);
      await store.put(record("good", "g1"));
      await store.put(record("cut", "c1"));
      await store.put(record("edited", "e1"));
      await store.putHashTree("cut", new Uint8Array([1]));
      await store.close();
      const meta = join(root, "meta");
      const cut = readFileSync(join(meta, "c1.rec"), "utf8");
      writeFileSync(join(meta, "c1.rec"), cut.slice(0, cut.length / 2));
      writeFileSync(join(meta, "e1.rec"), readFileSync(join(meta, "e1.rec"), "utf8").replace('"size":3', '"size":4'));
      writeFileSync(join(meta, "junk.rec"), "\u0000\u0001not a record");

      const logger = recordingLogger();
      const again = new FileMetaStore(root, { logger });
      assert.deepEqual(await again.loadAll(), [record("good", "g1")]);
      assert.equal(logger.messages.filter((m) => m.includes("unreadable record")).length, 3);
      const quarantined = readdirSync(join(meta, "quarantine")).map((n) => n.replace(/\.\d+$/, ""));
      assert.deepEqual(quarantined.sort(), ["c1.rec", "c1.tree", "e1.rec", "junk.rec"]);
      await again.close();
    }));

  it("a damaged hash tree reads as absent (the cache then rescans) and goes to quarantine", () =>
    withRoot(async (root) => {
      const logger = recordingLogger();
      const store = new FileMetaStore(root, { logger });
      await store.put(record("k", "k1"));
      await store.putHashTree("k", new Uint8Array([1, 2, 3, 4]));
      const path = join(root, "meta", "k1.tree");
      const bytes = readFileSync(path);
      bytes[bytes.length - 1]! ^= 1;
      writeFileSync(path, bytes);
      assert.equal(await store.getHashTree("k"), undefined);
      assert.ok(logger.messages.some((m) => m.includes("damaged")));
      assert.equal(existsSync(path), false);
      assert.deepEqual(await store.loadAll(), [record("k", "k1")]);
      await store.close();
    }));

  it("cleans what a killed writer leaves: temp files, trees and digest inputs without records, the older of two records of one key", () =>
    withRoot(async (root) => {
      const meta = join(root, "meta");
      await new FileMetaStore(root).close();
      // A rebase of "a" onto the existing key "b", cut short before b's old file was removed.
      writeFileSync(join(meta, "a1.rec"), encodeRecord({ seq: 7, record: record("b", "a1") }));
      writeFileSync(join(meta, "a1.tree"), encodeTree(new Uint8Array([7])));
      writeFileSync(join(meta, "b1.rec"), encodeRecord({ seq: 3, record: record("b", "b1") }));
      writeFileSync(join(meta, "b1.tree"), encodeTree(new Uint8Array([3])));
      writeFileSync(join(meta, "a1.digest-input"), "a1's");
      writeFileSync(join(meta, "b1.digest-input"), "b1's");
      writeFileSync(join(meta, "orphan.tree"), encodeTree(new Uint8Array([9])));
      writeFileSync(join(meta, "orphan.digest-input"), "orphan's");
      writeFileSync(join(meta, ".tmp-123-1-c1.rec"), "half");

      const store = new FileMetaStore(root, { logger: recordingLogger() });
      assert.deepEqual(await store.loadAll(), [record("b", "a1")]);
      assert.deepEqual(await store.getHashTree("b"), new Uint8Array([7]));
      assert.deepEqual(readdirSync(meta).sort(), ["a1.digest-input", "a1.rec", "a1.tree"]);
      assert.deepEqual(await store.getDigestInput("b"), new TextEncoder().encode("a1's"));
      // New writes are ordered after the surviving ones.
      await store.put(record("c", "c1"));
      await store.close();
      assert.match(readFileSync(join(meta, "c1.rec"), "utf8"), /"seq":8,/);
    }));

  it("a digest input's write is waited for by close, and a delete removes one still being written", () =>
    withRoot(async (root) => {
      const meta = join(root, "meta");
      const store = new FileMetaStore(root);
      await store.put(record("k", "k1"));
      await store.put(record("j", "j1"));
      const big = new Uint8Array(32 << 20).fill(7);
      // Not awaited: the delete comes right after the write begins, and waits for it.
      const removed = store.putDigestInput("j", big);
      await store.delete("j");
      await removed;
      assert.equal(existsSync(join(meta, "j1.digest-input")), false);
      // Not awaited either: close comes right after, and waits for it.
      const written = store.putDigestInput("k", big);
      await store.close();
      assert.equal(statSync(join(meta, "k1.digest-input")).size, big.length);
      await written;
    }));

  it("rebase is one rename: a crash before it shows the old key, after it the new, with the tree either way", () =>
    withRoot(async (root) => {
      const meta = join(root, "meta");
      const store = new FileMetaStore(root);
      await store.put(record("old", "snap"));
      await store.putHashTree("old", new Uint8Array([5]));
      await store.close();
      // Before the rename: the new content exists only as a temp file.
      writeFileSync(join(meta, ".tmp-1-1-snap.rec"), encodeRecord({ seq: 99, record: record("new", "snap") }));
      let again = new FileMetaStore(root);
      assert.deepEqual(
        (await again.loadAll()).map((r) => r.key),
        ["old"],
      );
      assert.deepEqual(await again.getHashTree("old"), new Uint8Array([5]));
      // After it (what rebase does): exactly the new key.
      await again.rebase("old", record("new", "snap"));
      await again.close();
      again = new FileMetaStore(root);
      assert.deepEqual(
        (await again.loadAll()).map((r) => r.key),
        ["new"],
      );
      assert.deepEqual(await again.getHashTree("new"), new Uint8Array([5]));
      assert.deepEqual(readdirSync(meta).sort(), ["snap.rec", "snap.tree"]);
      await again.close();
    }));

  it("names record files by snapshot, whatever characters the key has", () =>
    withRoot(async (root) => {
      const store = new FileMetaStore(root);
      const key = `../../${"ключ/".repeat(200)}\n`;
      await store.put(record(key, "abc"));
      await store.put(record("bad id", "../../etc"));
      await store.close();
      const names = readdirSync(join(root, "meta"));
      assert.ok(names.includes("abc.rec"));
      assert.ok(
        names.every((n) => /^[A-Za-z0-9_-]+\.rec$/.test(n)),
        names.join(),
      );
      const again = new FileMetaStore(root, { logger: recordingLogger() });
      assert.deepEqual(
        (await again.loadAll()).map((r) => r.key),
        [key],
      );
      await again.close();
    }));

  it("refuses calls after close", () =>
    withRoot(async (root) => {
      const store = new FileMetaStore(root);
      await store.close();
      await assert.rejects(store.loadAll(), (e) => e instanceof FSCacheError && e.code === "ERR_CLOSED");
    }));
});

describe("record files", () => {
  it("carry a CRC-32 of their JSON line, and files with the earlier SHA-256 line still load", () =>
    withRoot(async (root) => {
      const store = new FileMetaStore(root);
      await store.put(record("kéy", "n1"));
      await store.close();
      const meta = join(root, "meta");
      const [payload, sum] = readFileSync(join(meta, "n1.rec"), "utf8").split("\n");
      assert.match(sum as string, /^crc32:[0-9a-f]{8}$/);
      // As an earlier version wrote it: the JSON line, then its SHA-256.
      const oldPayload = (payload as string).replace('"n1"', '"o1"').replace("kéy", "old");
      const oldSum = createHash("sha256").update(oldPayload).digest("hex");
      writeFileSync(join(meta, "o1.rec"), `${oldPayload}\n${oldSum}\n`);
      // One changed character fails either check.
      writeFileSync(join(meta, "x1.rec"), `${oldPayload.replace('"o1"', '"x1"')}\n${oldSum}\n`);
      writeFileSync(join(meta, "y1.rec"), `${(payload as string).replace('"n1"', '"y1"')}\n${sum}\n`);
      const logger = recordingLogger();
      const again = new FileMetaStore(root, { logger });
      const keys = (await again.loadAll()).map((r) => `${r.key}@${r.backendId}`).sort();
      assert.deepEqual(keys, ["kéy@n1", "old@o1"]);
      assert.equal(logger.messages.filter((m) => m.includes("unreadable record")).length, 2);
      await again.close();
    }));
});

describe("hash-tree files", () => {
  it("decode to a plain Uint8Array of the stored bytes, whether the file owns its memory or not", () => {
    const data = Uint8Array.from({ length: 5000 }, (_, i) => i % 251);
    const file = encodeTree(data);
    const owned = Buffer.from(file); // a Buffer of its own, as readFile gives
    const pooled = Buffer.concat([Buffer.from("x"), Buffer.from(file)]).subarray(1); // a view into a larger one
    assert.ok(pooled.byteOffset > 0);
    for (const input of [file, owned, pooled]) {
      const decoded = decodeTree(input);
      assert.ok(decoded !== undefined);
      assert.equal(Object.getPrototypeOf(decoded), Uint8Array.prototype);
      assert.deepEqual(decoded, data);
    }
    // A view shares the file's memory; a copy does not see later writes to it.
    const small = Buffer.concat([Buffer.from("x"), Buffer.from(encodeTree(new Uint8Array([1, 2])))]).subarray(1);
    const copied = decodeTree(small) as Uint8Array;
    small[small.length - 1] = 9;
    assert.deepEqual(copied, new Uint8Array([1, 2]));
    const altered = Buffer.from(file);
    altered[altered.length - 1] = (altered[altered.length - 1] as number) ^ 1;
    assert.equal(decodeTree(altered), undefined);
    assert.equal(decodeTree(owned.subarray(0, owned.length - 1)), undefined);
  });

  it("carry a CRC-32 header, and files with the earlier SHA-256 header still read", () => {
    const data = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7) % 253);
    const file = encodeTree(data);
    const header = new TextDecoder().decode(file.subarray(0, file.indexOf(10)));
    assert.match(header, /^fscache-tree crc32:[0-9a-f]{8} 70000$/);
    const body = new TextEncoder().encode(`fscache-tree ${createHash("sha256").update(data).digest("hex")} 70000\n`);
    const old = new Uint8Array(body.length + data.length);
    old.set(body);
    old.set(data, body.length);
    assert.deepEqual(decodeTree(old), data);
    // Either checksum must match its bytes: one changed byte in the middle fails both.
    for (const input of [file, old]) {
      const altered = input.slice();
      altered[input.length - 35_000] = (altered[input.length - 35_000] as number) ^ 0x10;
      assert.equal(decodeTree(altered), undefined);
    }
    // A damaged CRC in the header fails too.
    const wrongSum = file.slice();
    wrongSum[header.indexOf(":") + 1] = wrongSum[header.indexOf(":") + 1] === 0x30 ? 0x31 : 0x30;
    assert.equal(decodeTree(wrongSum), undefined);
  });
});

describe("FSCache.open({ root })", () => {
  it("lays out the root: CACHEDIR.TAG, private snapshots and meta, a lock held until close", () =>
    withRoot(async (parent) => {
      const root = join(parent, "cache");
      const cache = await FSCache.open({ root, gcInterval: 0 });
      cache.registerTransport("t", {
        async copy({ dest, fs }) {
          await fs.writeFile(`${dest}/f`, "abc");
        },
      });
      const src = await cache.syncFrom({ key: "k", transport: "t" });
      assert.equal(src.root.startsWith(join(root, "snapshots")), true);
      assert.equal(readFileSync(join(root, "CACHEDIR.TAG"), "utf8"), CACHEDIR_TAG);
      assert.match(CACHEDIR_TAG, /^Signature: 8a477f597d28d172789f06886806bc55\n/);
      for (const dir of [root, join(root, "snapshots"), src.root, join(root, "meta")]) {
        assert.equal(statSync(dir).mode & 0o777, 0o700, dir);
      }
      assert.equal(JSON.parse(readFileSync(join(root, "lock"), "utf8")).pid, process.pid);
      await assert.rejects(FSCache.open({ root }), isLocked(process.pid));
      await src.close();
      await cache.close();
      assert.deepEqual(readdirSync(root).sort(), ["CACHEDIR.TAG", "meta", "snapshots"]);
      const again = await FSCache.open({ root, gcInterval: 0 });
      assert.deepEqual(
        (await again.sources()).map((s) => [s.key, s.size]),
        [["k", 3]],
      );
      await again.close();
    }));
});
