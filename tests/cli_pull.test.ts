/** `fscache pull` (in-process) from a session server: whole tree, then only changes; refusals. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FSCacheError } from "../core/errors.ts";
import { pushTree } from "../transports/session/client.ts";
import { pullSession } from "../transports/session/pull.ts";
import { connectSession, listenSessions } from "../transports/session/tcp.ts";
import { tokenVerifier } from "../transports/session/token.ts";
import { cli } from "./_cli.ts";
import { assertSameTree, disk, tempDir, writeTree } from "./_diffcopy.ts";
import { sessionFixture, snapshotOf } from "./_session.ts";

describe("fscache pull", () => {
  it("receives a cached source into a directory, then only what changed; refuses what it should", async () => {
    await using f = await sessionFixture({ verifyToken: tokenVerifier("s3cret") });
    writeTree(disk, f.src, { "a.txt": "hello", "d/": "", "d/b.bin": "b".repeat(100_000), "gone.txt": "x" });
    const listener = await listenSessions(f.server, "127.0.0.1", 0);
    using tmp = tempDir();
    const tokenFile = `${tmp.dir}/token`;
    disk.writeFileSync(tokenFile, "s3cret\n");
    const from = `127.0.0.1:${listener.port}`;
    const push = async (key: string) =>
      pushTree(await connectSession("127.0.0.1", listener.port), { fs: disk, root: f.src, key, token: "s3cret" });
    const pull = (key: string, dir: string, ...extra: string[]) =>
      cli(["pull", key, dir, "--from", from, "--token-file", tokenFile, "--json", ...extra]);
    try {
      const first = await push("k1");
      const dest = `${tmp.dir}/out`;
      const a = await pull("k1", dest);
      assert.equal(a.code, 0, a.stderr);
      const report = JSON.parse(a.stdout);
      assert.deepEqual(
        [report.checksum, report.added, report.filesReceived, report.bytesReceived],
        [first.checksum, 4, 3, 100_006],
      );
      assertSameTree(disk, dest, await snapshotOf(f.cache, "k1"));

      disk.writeFileSync(`${f.src}/a.txt`, "hello, world");
      disk.unlinkSync(`${f.src}/gone.txt`);
      await push("k2");
      const refused = await pull("k2", dest);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /not empty: --force/);
      const b = await pull("k2", dest, "--force");
      assert.equal(b.code, 0, b.stderr);
      const again = JSON.parse(b.stdout);
      assert.deepEqual([again.modified, again.deleted, again.filesReceived, again.bytesReceived], [1, 1, 1, 12]);
      assertSameTree(disk, dest, await snapshotOf(f.cache, "k2"));

      const missing = await pull("nope", `${tmp.dir}/other`);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /no source is cached under key "nope"/);
      assert.equal(disk.existsSync(`${tmp.dir}/other`), false, "a failed pull leaves no directory behind");

      // A failure here (a full disk, say) is reported as ours, not as the server's echo of it.
      const local = pullSession(
        await connectSession("127.0.0.1", listener.port),
        { key: "k1", token: "s3cret" },
        () => {
          throw new FSCacheError("ENOSPC", "no space left on device, write", { path: `${tmp.dir}/x` });
        },
      );
      await assert.rejects(local, (e) => e instanceof FSCacheError && e.code === "ENOSPC");

      disk.writeFileSync(tokenFile, "wrong\n");
      const denied = await pull("k1", `${tmp.dir}/other2`);
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, /invalid or missing token/);
      assert.equal(disk.existsSync(`${tmp.dir}/other2`), false);
    } finally {
      await listener.close();
    }
  });
});
