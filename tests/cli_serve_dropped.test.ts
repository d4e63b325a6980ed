/**
 * `fscache serve` facing clients that go away: a connection half-closed or cut inside
 * a frame ends its session at once (the key can be pushed again), and shutdown does
 * not wait on connections that send nothing.
 */
import assert from "node:assert/strict";
import { connect, createServer, type Socket } from "node:net";
import { describe, it } from "node:test";
import { controlFrame } from "../transports/session/frames.ts";
import { SESSION_VERSION } from "../transports/session/handshake.ts";
import { cli } from "./_cli.ts";
import { disk, listTree, tempDir, writeTree } from "./_diffcopy.ts";
import { concatBytes } from "./_helpers.ts";
import { assertStopped, listeningPort, spawnCli } from "./_processes.ts";

/**
 * A raw client: what the server sent, and a promise that settles when the server closed
 * the connection (its FIN, or a reset).
 */
function rawClient(port: number): { socket: Socket; received: () => string; closed: Promise<void> } {
  const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
  let got = "";
  socket.on("data", (d: Uint8Array) => {
    got += new TextDecoder("latin1").decode(d);
  });
  const closed = new Promise<void>((resolve) => {
    socket.on("error", () => undefined); // a reset is a close too
    socket.on("end", () => resolve());
    socket.on("close", () => resolve());
  });
  return { socket, received: () => got, closed };
}

/** Resolves with `promise`, or rejects after `ms` saying what did not happen. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe("fscache serve with clients that go away", () => {
  it("a connection half-closed inside a frame ends its session at once; the key can then be pushed", async () => {
    using tmp = tempDir();
    writeTree(disk, tmp.dir, { "src/": "", "src/a.txt": "hello", "src/d/": "", "src/d/b": "b".repeat(70_000) });
    const root = `${tmp.dir}/cache`;
    const serve = spawnCli(["serve", "--root", root, "--listen", "127.0.0.1:0"]);
    try {
      const port = await listeningPort(serve.child);
      // Two bytes of a frame header, then the client's FIN.
      const early = rawClient(port);
      early.socket.end(new Uint8Array([0, 0]));
      await within(early.closed, 10_000, "closing a connection half-closed inside a frame header");
      assert.match(early.received(), /"type":"error","code":"ERR_PROTOCOL"/);
      // A hello, then part of the first diff-copy frame, then the FIN (a client killed mid-transfer).
      const cut = rawClient(port);
      const hello = controlFrame({ v: SESSION_VERSION, type: "hello", key: "cut" });
      cut.socket.end(concatBytes([hello, new Uint8Array([0, 0, 3, 0xe8, 1, 2, 3])]));
      await within(cut.closed, 10_000, "closing a connection cut inside the transfer");
      assert.match(cut.received(), /"type":"send"[\s\S]*"type":"error","code":"ERR_PROTOCOL"/);
      const push = await cli(["push", `${tmp.dir}/src`, "--to", `127.0.0.1:${port}`, "--key", "cut", "--json"]);
      assert.equal(push.code, 0, push.stderr);
      assert.equal(JSON.parse(push.stdout).added, 3);
    } finally {
      serve.child.kill("SIGTERM");
    }
    const exit = await serve.exit;
    assertStopped(exit);
    assert.match(exit.stderr, /session failed key=cut: ERR_PROTOCOL/);
    const ls = await cli(["ls", "--root", root, "--json"]);
    const path = JSON.parse(ls.stdout).find((s: { key: string }) => s.key === "cut").path;
    assert.deepEqual(listTree(disk, path, false), listTree(disk, `${tmp.dir}/src`, false));
  });

  it("shutdown closes silent connections at once and aborts a session stuck mid-hello after --grace", async () => {
    using tmp = tempDir();
    const serve = spawnCli(["serve", "--root", `${tmp.dir}/cache`, "--listen", "127.0.0.1:0", "--grace", "1s"]);
    const port = await listeningPort(serve.child);
    const silent = rawClient(port);
    const stuck = rawClient(port);
    stuck.socket.write(new Uint8Array([0, 0]));
    // The server must have taken the stuck session in before it is told to stop. Its
    // answer to a later plain HTTP request says so: one event loop reads connections in
    // the order their bytes came (a fixed sleep lost that race on a loaded machine).
    const probe = rawClient(port);
    probe.socket.end("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await within(probe.closed, 10_000, "an answer to the HTTP probe");
    assert.match(probe.received(), /^HTTP\/1\.1 426 /);
    const stopping = Date.now();
    serve.child.kill("SIGTERM");
    const exit = await within(serve.exit, 15_000, "stopping the server");
    assertStopped(exit);
    assert.ok(Date.now() - stopping < 10_000, "stopped within the grace period and the close timeouts");
    assert.match(exit.stderr, /shutting down: 1 session\(s\) in progress[\s\S]*session failed: ERR_ABORTED/);
    await within(Promise.all([silent.closed, stuck.closed]), 5_000, "closing both connections");
    silent.socket.destroy();
    stuck.socket.destroy();
  });

  it("push --timeout gives up on a server that accepts and then says nothing: ERR_TIMEOUT", async () => {
    using tmp = tempDir();
    writeTree(disk, tmp.dir, { "src/": "", "src/a.txt": "a" });
    const sockets: Socket[] = [];
    const silent = createServer((socket) => {
      sockets.push(socket);
      socket.on("error", () => undefined);
      socket.resume(); // reads the hello, answers nothing
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    try {
      const started = Date.now();
      const push = await within(
        cli(["push", `${tmp.dir}/src`, "--to", `127.0.0.1:${port}`, "--timeout", "300ms"]),
        10_000,
        "giving up on a silent server",
      );
      assert.equal(push.code, 1);
      assert.match(push.stderr, /ERR_TIMEOUT/);
      assert.ok(Date.now() - started < 8_000);
      const bad = await cli(["push", `${tmp.dir}/src`, "--to", `127.0.0.1:${port}`, "--timeout", "soon"]);
      assert.equal(bad.code, 2);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
