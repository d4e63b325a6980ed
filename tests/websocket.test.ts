/**
 * WebSocket sessions without a browser, on Node and Deno: `ws` as the client, the same
 * listener `fscache serve` uses (TCP and WebSocket on one port), pushes and pulls with
 * the page's functions (pushFolder over `File`s, pullInto a second cache).
 */
import assert from "node:assert/strict";
import { posix } from "node:path";
import { describe, it } from "node:test";
import { Volume } from "memfs";
import { nodeToFsa } from "memfs/lib/node-to-fsa/index.js";
import { WebSocket as WsWebSocket } from "ws";
import { FSCacheError } from "../core/errors.ts";
import { FSCache } from "../mod.ts";
import type { PickedDirectory } from "../transports/browser_folder.ts";
import { receiveDiffCopy } from "../transports/diffcopy/receiver.ts";
import { pushTree } from "../transports/session/client.ts";
import { pullSession } from "../transports/session/pull.ts";
import type { SessionOutcome } from "../transports/session/server.ts";
import { connectSession } from "../transports/session/tcp.ts";
import { tokenVerifier } from "../transports/session/token.ts";
import { pullInto, pushFolder } from "../transports/websocket/browser_session.ts";
import { connectWebSocket, type WebSocketLike } from "../transports/websocket/connection.ts";
import { listenSessionsAndWebSockets } from "../transports/websocket/listener.ts";
import { MemoryFileSystem } from "../transports/websocket/memory_fs.ts";
import { normalize, sep } from "../transports/websocket/posix_path.ts";
import { assertSameTree, disk, listTree, recordingUpdater, tempDir, writeTree } from "./_diffcopy.ts";
import { recordingLogger } from "./_helpers.ts";
import { spawnCli } from "./_processes.ts";
import { sessionFixture, snapshotOf } from "./_session.ts";

const Ws = WsWebSocket as unknown as new (url: string) => WebSocketLike;
const tree = {
  "a.txt": "hello",
  "dir/": "",
  "dir/b.bin": "b".repeat(300_000),
  "dir/sub/": "",
  "dir/sub/c.txt": "c",
} as const;

function originSocket(origin: string): new (url: string) => WebSocketLike {
  return class extends WsWebSocket {
    constructor(url: string) {
      super(url, { origin });
    }
  } as unknown as new (
    url: string,
  ) => WebSocketLike;
}

describe("WebSocket sessions", () => {
  it("the browser build's path shim normalizes as node's posix path does", () => {
    for (const p of ["a//b/../c/.", "/../x/", "", "./", "..//a/..", "a/b/", "/", "../../a", "a/./b//"]) {
      assert.equal(normalize(p), posix.normalize(p), p);
    }
    assert.equal(sep, "/");
  });

  it("MemoryFileSystem: a blob-backed file is readable once loaded, and dropped after a read", async () => {
    const fs = new MemoryFileSystem({ unloadAfterRead: true, uid: 7 });
    fs.mkdirSync("/a/b", { recursive: true });
    fs.addBlob("/a/b/f", new Blob(["content"]), { mtimeMs: 1000 });
    assert.deepEqual([fs.lstatSync("/a/b/f").size, fs.lstatSync("/a/b/f").uid], [7, 7]);
    assert.throws(() => fs.openSync("/a/b/f", "r"), { code: "EAGAIN" });
    await fs.load("/a/b/f");
    const fd = fs.openSync("/a/b/f", "r");
    const buf = new Uint8Array(16);
    assert.equal(fs.readSync(fd, buf, 0, 16, null), 7);
    fs.closeSync(fd);
    assert.throws(() => fs.openSync("/a/b/f", "r"), { code: "EAGAIN" }, "dropped after the read");
    const w = fs.openSync("/a/b/g", "wx", 0o600);
    fs.writeSync(w, new TextEncoder().encode("written"));
    fs.closeSync(w);
    assert.equal(fs.readFileSync("/a/b/g", "utf8"), "written");
    assert.equal(fs.lstatSync("/a/b/g").mode & 0o777, 0o600);
    assert.throws(() => fs.rmSync("/a"), { code: "ENOTEMPTY" });
    fs.renameSync("/a/b/g", "/a/g");
    assert.deepEqual(fs.readdirSync("/a").sort(), ["b", "g"]);
  });

  it("push over a WebSocket and over TCP on one port; a wrong token is refused on both ends", async () => {
    const outcomes: SessionOutcome[] = [];
    await using f = await sessionFixture({
      verifyToken: tokenVerifier("s3cret"),
      onSession: (o) => outcomes.push(o),
    });
    writeTree(disk, f.src, tree);
    const listener = await listenSessionsAndWebSockets(f.server, "127.0.0.1", 0);
    const url = `ws://127.0.0.1:${listener.port}/`;
    try {
      const ws = await pushTree(await connectWebSocket(url, { WebSocket: Ws }), {
        fs: disk,
        root: f.src,
        key: "ws-1",
        sharedKey: "s",
        token: "s3cret",
      });
      assert.equal(ws.added, 5);
      assert.equal(ws.bytesSent, 300_000 + 6);
      assertSameTree(disk, await snapshotOf(f.cache, "ws-1"), f.src);
      {
        await using source = await f.cache.get("ws-1");
        assert.equal(ws.checksum, await source?.hash("."));
      }

      const tcp = await pushTree(await connectSession("127.0.0.1", listener.port), {
        fs: disk,
        root: f.src,
        key: "tcp-1",
        sharedKey: "s",
        token: "s3cret",
      });
      assert.equal(tcp.checksum, ws.checksum);
      assert.equal(tcp.bytesSent, 0, "the WebSocket push is the TCP push's base");

      await assert.rejects(
        pushTree(await connectWebSocket(url, { WebSocket: Ws }), { fs: disk, root: f.src, key: "ws-2", token: "nope" }),
        (err: unknown) =>
          err instanceof FSCacheError && err.code === "ERR_AUTH" && /invalid or missing token/.test(err.message),
      );
      const last = outcomes.at(-1);
      assert.equal(last?.ok === false ? last.error.code : "", "ERR_AUTH");
      assert.equal(await f.cache.get("ws-2"), undefined);
    } finally {
      await listener.close();
    }
  });

  it("pushFolder sends picked Files (read only when asked for); a repeat push sends nothing", async () => {
    await using f = await sessionFixture();
    const listener = await listenSessionsAndWebSockets(f.server, "127.0.0.1", 0);
    try {
      const uid = process.getuid?.() ?? 0;
      const gid = process.getgid?.() ?? 0;
      const mtime = 1_700_000_000_000;
      const picked = [
        new File(["hello"], "a.txt", { lastModified: mtime }),
        new File(["x".repeat(100_000)], "b.bin", { lastModified: mtime }),
        new File(["deep"], "c.txt", { lastModified: mtime }),
      ];
      for (const [file, path] of [
        [picked[0], "proj/a.txt"],
        [picked[1], "proj/dir/b.bin"],
        [picked[2], "proj/dir/sub/c.txt"],
      ] as const) {
        Object.defineProperty(file, "webkitRelativePath", { value: path });
      }
      const options = { url: `ws://127.0.0.1:${listener.port}/`, WebSocket: Ws, uid, gid };
      const first = await pushFolder(picked, { ...options, key: "p1" });
      assert.equal(first.added, 5);
      assert.equal(first.bytesSent, 100_009);
      const snap = await snapshotOf(f.cache, "p1");
      assert.equal(new TextDecoder().decode(disk.readFileSync(`${snap}/dir/sub/c.txt`)), "deep");
      assert.equal(disk.lstatSync(`${snap}/a.txt`).mode & 0o777, 0o644);
      assert.equal(Math.round(disk.lstatSync(`${snap}/a.txt`).mtimeMs), mtime);

      // The same tree on disk with the same modes, owner and mtimes has the same checksum.
      using tmp = tempDir();
      writeTree(disk, tmp.dir, {
        "a.txt": "hello",
        "dir/": "",
        "dir/b.bin": "x".repeat(100_000),
        "dir/sub/": "",
        "dir/sub/c.txt": "deep",
      });
      assert.equal(first.checksum, await hashDir(tmp.dir));

      const again = await pushFolder(picked, { ...options, key: "p2" });
      assert.deepEqual([again.filesSent, again.bytesSent, again.checksum], [0, 0, first.checksum]);
    } finally {
      await listener.close();
    }
  });

  it("pushFolder sends a directory handle (File System Access API), empty directories included", async () => {
    await using f = await sessionFixture();
    const listener = await listenSessionsAndWebSockets(f.server, "127.0.0.1", 0);
    try {
      const vol = new Volume();
      vol.mkdirSync("/picked/src/empty", { recursive: true });
      vol.writeFileSync("/picked/src/main.ts", "main();\n");
      vol.writeFileSync("/picked/README", "read me\n");
      const handle = nodeToFsa(vol as never, "/picked", { mode: "read" }) as unknown as PickedDirectory;
      const pushed = await pushFolder(handle, { url: `ws://127.0.0.1:${listener.port}/`, WebSocket: Ws, key: "h1" });
      assert.equal(pushed.added, 4);
      const snap = await snapshotOf(f.cache, "h1");
      assert.deepEqual(disk.readdirSync(`${snap}/src`).sort(), ["empty", "main.ts"]);
      assert.equal(new TextDecoder().decode(disk.readFileSync(`${snap}/README`)), "read me\n");
    } finally {
      await listener.close();
    }
  });

  it("pull: a cached source into a second cache; unknown key and wrong token are refused", async () => {
    await using f = await sessionFixture({ verifyToken: tokenVerifier("s3cret") });
    writeTree(disk, f.src, tree);
    const listener = await listenSessionsAndWebSockets(f.server, "127.0.0.1", 0);
    const url = `ws://127.0.0.1:${listener.port}/`;
    using tmp = tempDir();
    const local = await FSCache.open({ root: `${tmp.dir}/cache`, gcInterval: 0, logger: recordingLogger() });
    try {
      const pushed = await pushTree(await connectWebSocket(url, { WebSocket: Ws }), {
        fs: disk,
        root: f.src,
        key: "src-1",
        token: "s3cret",
      });
      const pulled = await pullInto(local, { url, key: "src-1", token: "s3cret", WebSocket: Ws });
      assert.equal(pulled.serverChecksum, pushed.checksum);
      assert.equal(pulled.checksum, pushed.checksum);
      assert.equal(pulled.bytesReceived, 300_006);
      // the folder transport cannot set mtimes: compare everything else
      assert.deepEqual(listTree(disk, await snapshotOf(local, "src-1"), false), listTree(disk, f.src, false));

      // The raw session: the receiver on a plain directory.
      const dest = `${tmp.dir}/raw`;
      disk.mkdirSync(dest);
      const updater = recordingUpdater();
      const { announced, value } = await pullSession(
        await connectWebSocket(url, { WebSocket: Ws }),
        { key: "src-1", token: "s3cret" },
        (channel) => receiveDiffCopy(channel, { dest, fs: disk, updater }),
      );
      assert.equal(announced.checksum, pushed.checksum);
      assert.equal(value.filesReceived, 3);
      // against the server's snapshot: each hop may round mtimes (Deno's utimes to ~1 ms)
      assertSameTree(disk, dest, await snapshotOf(f.cache, "src-1"));

      await assert.rejects(
        pullInto(local, { url, key: "missing", token: "s3cret", WebSocket: Ws }),
        (err: unknown) =>
          err instanceof FSCacheError && err.code === "ENOENT" && /no source is cached/.test(err.message),
      );
      await assert.rejects(
        pullInto(local, { url, key: "src-1", localKey: "other", token: "wrong", WebSocket: Ws }),
        (err: unknown) => err instanceof FSCacheError && err.code === "ERR_AUTH",
      );
    } finally {
      await local.close();
      await listener.close();
    }
  });

  it("refuses a disallowed Origin with 403 and a plain HTTP request with 426", async () => {
    await using f = await sessionFixture();
    const refused: string[] = [];
    const listener = await listenSessionsAndWebSockets(f.server, "127.0.0.1", 0, {
      allowOrigin: (origin) => origin === undefined || origin === "http://good.example",
      onRefused: (reason) => refused.push(reason),
    });
    const url = `ws://127.0.0.1:${listener.port}/`;
    try {
      await assert.rejects(
        connectWebSocket(url, { WebSocket: originSocket("http://evil.example") }),
        (err: unknown) => err instanceof FSCacheError && err.code === "ERR_CONNECT",
      );
      assert.match(refused[0] ?? "", /origin "http:\/\/evil.example" is not allowed/);
      const ok = await connectWebSocket(url, { WebSocket: originSocket("http://good.example") });
      await ok.writable.close();
      const response = await fetch(`http://127.0.0.1:${listener.port}/`);
      assert.equal(response.status, 426);
      assert.match(await response.text(), /fscache sessions/);
    } finally {
      await listener.close();
    }
  });
});

describe("fscache serve over WebSocket (the CLI, under this test's runtime)", () => {
  it("accepts a WebSocket push; without a token it refuses pages (an Origin) but not other clients", async () => {
    using tmp = tempDir();
    disk.mkdirSync(`${tmp.dir}/src`);
    writeTree(disk, `${tmp.dir}/src`, tree);
    const serve = spawnCli(["--root", `${tmp.dir}/cache`, "serve", "--listen", "127.0.0.1:0"]);
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = "";
        serve.child.stdout?.on("data", (d) => {
          out += String(d);
          const match = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
          if (match) resolve(Number(match[1]));
        });
        serve.child.once("close", (code) => reject(new Error(`fscache serve exited with ${code}`)));
      });
      const url = `ws://127.0.0.1:${port}/`;
      const pushed = await pushTree(await connectWebSocket(url, { WebSocket: Ws }), {
        fs: disk,
        root: `${tmp.dir}/src`,
        key: "cli-ws",
      });
      assert.equal(pushed.added, 5);
      assert.equal(pushed.checksum, await hashDir(`${tmp.dir}/src`));
      await assert.rejects(
        connectWebSocket(url, { WebSocket: originSocket("http://any-site.example") }),
        (err: unknown) => err instanceof FSCacheError && err.code === "ERR_CONNECT",
      );
    } finally {
      serve.child.kill("SIGTERM");
    }
    const { code, stderr } = await serve.exit;
    // Deno reports a child sent a signal as killed by it (null) even when it exited 0.
    assert.ok(code === 0 || ("Deno" in globalThis && code === null), `exit code ${code}: ${stderr}`);
    assert.match(stderr, /stopped\n$/);
    assert.match(stderr, /session key=cli-ws: 5 added/);
    assert.match(stderr, /refused a WebSocket request: WebSocket origin "http:\/\/any-site.example" is not allowed/);
  });
});

async function hashDir(dir: string): Promise<string> {
  const { cli } = await import("./_cli.ts");
  const out = await cli(["checksum", "--json", dir]);
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout).checksum as string;
}
