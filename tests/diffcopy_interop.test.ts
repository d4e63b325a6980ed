/**
 * Interop with BuildKit's fsutil (the protocol behind `docker build`) in both
 * directions, and the `fscache diffcopy` CLI as real processes over stdio.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { receiveDiffCopy } from "../transports/diffcopy/receiver.ts";
import { sendDiffCopy } from "../transports/diffcopy/sender.ts";
import { assertSameTree, disk, recordingUpdater, scanChecksums, tempDir, writeTree } from "./_diffcopy.ts";
import { connect, fsutilPeer, spawnCli, spawnPeer } from "./_processes.ts";

const tree = {
  "a.txt": "hello",
  "big/": "",
  "big/blob": "0123456789abcdef".repeat(20_000),
  "big/exec": { content: "#!/bin/sh\necho hi\n", mode: 0o755 },
  "foo/": "",
  "foo/a": "in foo",
  "foo.2": "two",
  foo0: "zero",
  link: { symlink: "a.txt" },
  abs: { symlink: "/etc/passwd" },
  hard: { link: "a.txt" },
  "ünïcödé ☃": "snow",
} as const;

function setup() {
  const tmp = tempDir();
  const src = `${tmp.dir}/src`;
  const dst = `${tmp.dir}/dst`;
  disk.mkdirSync(src);
  disk.mkdirSync(dst);
  writeTree(disk, src, tree);
  return { tmp, src, dst };
}

describe("interop with BuildKit fsutil", () => {
  it("receives from fsutil.Send: equal tree, rescan checksums, and a re-push moves only changes", async () => {
    const { tmp, src, dst } = setup();
    using _ = tmp;
    const receive = async () => {
      const peer = spawnPeer(fsutilPeer(), ["send", src]);
      const updater = recordingUpdater();
      const result = await receiveDiffCopy(peer.connection(), { dest: dst, fs: disk, updater });
      const { code, stderr } = await peer.exit;
      assert.equal(code, 0, stderr);
      return { result, updater };
    };
    const first = await receive();
    assertSameTree(disk, dst, src, disk);
    const scanned = scanChecksums(disk, dst);
    assert.deepEqual(new Map(first.updater.changes.map((c) => [c.path, c.checksum])), scanned);
    assert.equal(first.result.bytesReceived, 5 + 320_000 + 18 + 6 + 3 + 4 + 4);

    const second = await receive();
    assert.equal(second.result.bytesReceived, 0);
    assert.deepEqual(second.updater.changes, []);

    disk.writeFileSync(`${src}/foo/a`, "changed");
    const third = await receive();
    assert.equal(third.result.filesReceived, 1);
    assert.deepEqual(
      third.updater.changes.map((c) => `${c.kind} ${c.path}`),
      ["modify foo/a"],
    );
    assertSameTree(disk, dst, src, disk);
  });

  it("sends to fsutil.Receive: equal tree, and a re-send of an unchanged tree moves no data", async () => {
    const { tmp, src, dst } = setup();
    using _ = tmp;
    const send = async () => {
      const peer = spawnPeer(fsutilPeer(), ["receive", dst]);
      const result = await sendDiffCopy(peer.connection(), { fs: disk, root: src });
      const { code, stderr } = await peer.exit;
      assert.equal(code, 0, stderr);
      return result;
    };
    const first = await send();
    assertSameTree(disk, dst, src, disk);
    assert.equal(disk.lstatSync(`${dst}/hard`).ino, disk.lstatSync(`${dst}/a.txt`).ino);
    assert.equal(first.bytesSent, 5 + 320_000 + 18 + 6 + 3 + 4 + 4);
    const second = await send();
    assert.equal(second.bytesSent, 0);
    disk.writeFileSync(`${src}/big/exec`, "#!/bin/sh\necho changed\n");
    const third = await send();
    assert.equal(third.filesSent, 1);
    assertSameTree(disk, dst, src, disk);
  });

  it("a rejection by our receiver reaches fsutil.Send as its error", async () => {
    const { tmp, src, dst } = setup();
    using _ = tmp;
    const peer = spawnPeer(fsutilPeer(), ["send", src]);
    const receiving = receiveDiffCopy(
      peer.connection(),
      { dest: dst, fs: disk, updater: recordingUpdater() },
      { maxEntries: 3 },
    );
    await assert.rejects(receiving, { code: "ERR_LIMIT" });
    const { code, stderr } = await peer.exit;
    assert.notEqual(code, 0);
    assert.match(stderr, /error from receiver: more than 3 entries/);
    assert.deepEqual(disk.readdirSync(dst), []);
  });
});

describe("fscache diffcopy send/receive (real processes over stdio)", () => {
  it("send | receive makes the destination equal, then a repeat changes nothing", async () => {
    const { tmp, src, dst } = setup();
    using _ = tmp;
    for (let round = 0; round < 2; round++) {
      const sender = spawnCli(["diffcopy", "send", src]);
      const receiver = spawnCli(["diffcopy", "receive", dst]);
      connect(sender, receiver);
      const [s, r] = await Promise.all([sender.exit, receiver.exit]);
      assert.equal(s.code, 0, s.stderr);
      assert.equal(r.code, 0, r.stderr);
      assertSameTree(disk, dst, src, disk);
    }
  });

  it("interoperates with fsutil in both directions", async () => {
    const { tmp, src, dst } = setup();
    using _ = tmp;
    const cliSend = spawnCli(["diffcopy", "send", src]);
    const goReceive = spawnPeer(fsutilPeer(), ["receive", dst]);
    connect(cliSend, goReceive);
    const [a, b] = await Promise.all([cliSend.exit, goReceive.exit]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assertSameTree(disk, dst, src, disk);

    const dst2 = `${tmp.dir}/dst2`;
    const goSend = spawnPeer(fsutilPeer(), ["send", src]);
    const cliReceive = spawnCli(["diffcopy", "receive", dst2]);
    connect(goSend, cliReceive);
    const [c, d] = await Promise.all([goSend.exit, cliReceive.exit]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(d.code, 0, d.stderr);
    assertSameTree(disk, dst2, src, disk);
  });

  it("receive --max-bytes takes a size: a tree with more file content is refused with ERR_LIMIT", async () => {
    using tmp = tempDir();
    writeTree(disk, tmp.dir, { "src/": "", "src/big": "x".repeat(3000) });
    const run = async (limit: string, dst: string) => {
      const sender = spawnCli(["diffcopy", "send", `${tmp.dir}/src`]);
      const receiver = spawnCli(["diffcopy", "receive", dst, "--max-bytes", limit]);
      connect(sender, receiver);
      return (await Promise.all([sender.exit, receiver.exit]))[1];
    };
    const refused = await run("2KiB", `${tmp.dir}/small`);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /ERR_LIMIT/);
    const taken = await run("1MiB", `${tmp.dir}/roomy`);
    assert.equal(taken.code, 0, taken.stderr);
    assertSameTree(disk, `${tmp.dir}/roomy`, `${tmp.dir}/src`, disk);
  });

  it("receive exits non-zero with the reason on stderr when the sender is hostile", async () => {
    using tmp = tempDir();
    const receiver = spawnCli(["diffcopy", "receive", `${tmp.dir}/dst`]);
    // one STAT frame for "/etc/passwd" (field 2: Stat{path}) — absolute paths are refused
    const path = new TextEncoder().encode("/etc/passwd");
    const stat = [0x0a, path.length, ...path];
    const body = [0x12, stat.length, ...stat];
    const frame = Uint8Array.from([0, 0, 0, body.length, ...body]);
    let out = Buffer.alloc(0);
    receiver.child.stdout!.on("data", (d: Buffer) => {
      out = Buffer.concat([out, d]);
    });
    receiver.child.stdin!.end(frame);
    const { code, stderr } = await receiver.exit;
    assert.equal(code, 1);
    assert.match(stderr, /ERR_PROTOCOL.*absolute path/);
    // what went back on stdout is one ERR packet (type 4) naming the reason
    assert.equal(out.readUInt32BE(0), out.length - 4);
    assert.deepEqual([...out.subarray(4, 6)], [0x08, 0x04]);
    assert.match(out.subarray(6).toString(), /absolute path/);
  });
});
