/** `fscache serve` as a child process, `fscache push` in-process: TCP, stdio (--exec), refusals, SIGTERM. */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { appendFileSync, existsSync, readdirSync, realpathSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import process from "node:process";
import { describe, it } from "node:test";
import { RACY_MS } from "../core/listing_key.ts";
import { cli } from "./_cli.ts";
import { disk, listTree, tempDir, writeTree } from "./_diffcopy.ts";
import { pollUntil, shellQuote } from "./_helpers.ts";
import { assertStopped, binEntry, cliCommand, listeningPort, spawnCli } from "./_processes.ts";

const PUSH_KEYS = [
  "added",
  "bytesSent",
  "checksum",
  "deleted",
  "durationMs",
  "filesSent",
  "key",
  "modified",
  "wireBytes",
];

describe("fscache serve / push", () => {
  it("two pushes over TCP: the second moves nothing, JSON has exactly the documented keys; SIGTERM stops it", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    writeTree(disk, tmp.dir, { "src/": "", "src/a.txt": "hello", "src/d/": "", "src/d/b": "b".repeat(50_000) });
    const serve = spawnCli(["serve", "--root", `${tmp.dir}/cache`, "--listen", "127.0.0.1:0"]);
    try {
      const port = await listeningPort(serve.child);
      const push = async () => {
        const r = await cli(["push", src, "--to", `127.0.0.1:${port}`, "--json"]);
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout);
      };
      const first = await push();
      assert.deepEqual(Object.keys(first).sort(), PUSH_KEYS);
      assert.deepEqual([first.added, first.filesSent, first.bytesSent], [3, 2, 50_005]);
      const second = await push();
      assert.deepEqual([second.added, second.modified, second.deleted, second.bytesSent], [0, 0, 0, 0]);
      assert.equal(second.checksum, first.checksum);
      assert.notEqual(second.key, first.key);
      // the same checksum as a local sync of the directory
      const sync = await cli(["sync", src, "--root", `${tmp.dir}/local`, "--json"]);
      assert.equal(JSON.parse(sync.stdout).checksum, first.checksum);
    } finally {
      serve.child.kill("SIGTERM");
    }
    assertStopped(await serve.exit);
  });

  it("prints an IPv6 address as push --to takes it back: [::1]:PORT", async () => {
    using tmp = tempDir();
    writeTree(disk, tmp.dir, { "src/": "", "src/a": "a" });
    const serve = spawnCli(["serve", "--root", `${tmp.dir}/cache`, "--listen", "[::1]:0"]);
    try {
      const address = await new Promise<string>((resolve, reject) => {
        let seen = "";
        serve.child.stdout?.on("data", (d) => {
          seen += String(d);
          const match = /listening on (\S+)\n/.exec(seen);
          if (match) resolve(match[1] as string);
        });
        serve.child.on("close", () => reject(new Error(`serve exited before listening: ${seen}`)));
      });
      assert.match(address, /^\[::1\]:\d+$/);
      const r = await cli(["push", `${tmp.dir}/src`, "--to", address, "--json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).added, 1);
    } finally {
      serve.child.kill("SIGTERM");
    }
    assertStopped(await serve.exit);
  });

  it("--max-size is the GC budget: after a session, idle snapshots beyond it are collected, oldest first", async () => {
    using tmp = tempDir();
    writeTree(disk, tmp.dir, { "x/": "", "x/f": "x".repeat(50_000), "y/": "", "y/f": "y".repeat(50_000) });
    const root = `${tmp.dir}/cache`;
    const serve = spawnCli(["serve", "--root", root, "--listen", "127.0.0.1:0", "--max-size", "60KB", "--keep", "1d"]);
    const keys: string[] = [];
    try {
      const port = await listeningPort(serve.child);
      for (const dir of ["x", "y"]) {
        const r = await cli(["push", `${tmp.dir}/${dir}`, "--to", `127.0.0.1:${port}`, "--json"]);
        assert.equal(r.code, 0, r.stderr);
        keys.push(JSON.parse(r.stdout).key);
      }
    } finally {
      serve.child.kill("SIGTERM");
    }
    assertStopped(await serve.exit);
    const ls = await cli(["ls", "--root", root, "--json"]);
    assert.deepEqual(
      JSON.parse(ls.stdout).map((s: { key: string }) => s.key),
      [keys[1]],
    );
    const bad = await cli(["serve", "--root", root, "--max-size", "lots"]);
    assert.equal(bad.code, 2);
  });

  it("push --exec speaks to 'serve --stdio' over pipes; every file of many tiny ones arrives", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    writeTree(disk, tmp.dir, { "src/": "", "src/x": "x", "src/l": { symlink: "x" } });
    // Several windows of requests whose data fits in one read: once, only the first 256 came.
    disk.mkdirSync(`${src}/tiny`);
    for (let i = 0; i < 600; i++) disk.writeFileSync(`${src}/tiny/${i}`, String(i));
    const [command, prefix] = cliCommand();
    const server = [command, ...prefix, "serve", "--stdio", "-q", "--root", `${tmp.dir}/cache`]
      .map(shellQuote)
      .join(" ");
    const first = await cli(["push", src, "--exec", server, "--key", "one", "--json"]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(JSON.parse(first.stdout).added, 603);
    const local = await cli(["checksum", src]);
    assert.equal(JSON.parse(first.stdout).checksum, local.stdout.trim());
    const again = await cli(["push", src, "--exec", server, "--key", "one", "--json"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).bytesSent, 0);
    const ls = await cli(["ls", "--root", `${tmp.dir}/cache`, "--json"]);
    const path = JSON.parse(ls.stdout).find((s: { key: string }) => s.key === "one").path;
    assert.deepEqual(listTree(disk, path, false), listTree(disk, src, false));
  });

  it("push as a process: --exec starts where the push was started; a repeat push finds in-place edits", async () => {
    using tmp = tempDir();
    // The working directory reads back without symlinks: the source must too, for the
    // walk to go by relative paths once the push is in it (see `SendOptions.cwd`).
    const work = realpathSync(tmp.dir);
    const src = `${work}/src`;
    writeTree(disk, work, { "src/a/b/": "", "src/a/b/deep.txt": "deep", "src/a/x": "x", "src/top": "top" });
    // The npm bin itself, a bundle: what it loads on demand must load there too.
    const bin = [process.execPath, ...binEntry()];
    const serve = [...bin, "serve", "--stdio", "-q", "--root", `${work}/cache`].map(shellQuote).join(" ");
    writeFileSync(`${work}/serve.sh`, `#!/bin/sh\nexec ${serve}\n`, { mode: 0o755 });
    // Without --key: a fresh key each time, the snapshot of the last push its base. The
    // client's own root (its listings) is relative too: to where the push was started.
    const push = () =>
      JSON.parse(
        execFileSync(
          process.execPath,
          [...binEntry(), "push", src, "--exec", "./serve.sh", "--root", "client", "--json"],
          {
            cwd: work,
            encoding: "utf8",
          },
        ),
      );
    // Directories changed just before a walk get no listing to keep: let them settle.
    await new Promise((resolve) => setTimeout(resolve, RACY_MS + 300));
    assert.equal(push().added, 5);
    appendFileSync(`${src}/a/b/deep.txt`, " edited");
    appendFileSync(`${src}/top`, " edited");
    const again = push();
    assert.deepEqual([again.added, again.modified, again.deleted, again.filesSent], [0, 2, 0, 2]);
    const local = execFileSync(process.execPath, [...binEntry(), "checksum", src], { encoding: "utf8" });
    assert.equal(again.checksum, local.trim());
    // The listings kept in the client's root, relative to where the push was started.
    assert.equal(readdirSync(`${work}/client/listings`).length, 1);
    assert.equal(existsSync(`${src}/client`), false);
  });

  it("push --exec names a command that exits or is killed before the push is done", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    writeTree(disk, tmp.dir, { "src/": "", "src/x": "x" });
    for (const [command, ended] of [
      ["false", "exited with code 1"],
      ["exit 0", "exited with code 0"],
      ["no-such-command-here 2>/dev/null", "exited with code 127"],
      // Killed at once: its pipes close before the push has begun.
      ["kill -9 $$", "was killed by SIGKILL"],
      ["head -c 8 >/dev/null; exit 3", "exited with code 3"],
    ]) {
      const push = await cli(["push", src, "--exec", command as string, "--key", "k"]);
      assert.equal(push.code, 1, command);
      assert.match(push.stderr, /ERR_EXEC_EXITED/, command);
      assert.ok(push.stderr.includes(`the --exec command ${ended} before the push finished (`), push.stderr);
      assert.ok(push.stderr.trimEnd().endsWith(`): ${command}`), push.stderr);
    }
  });

  it("push leaves out a fifo with a warning, as sync does", async () => {
    using tmp = tempDir();
    writeTree(disk, tmp.dir, { "src/": "", "src/x": "x" });
    execFileSync("mkfifo", [`${tmp.dir}/src/pipe`]);
    const [command, prefix] = cliCommand();
    const server = [command, ...prefix, "serve", "--stdio", "-q", "--root", `${tmp.dir}/cache`]
      .map(shellQuote)
      .join(" ");
    const push = await cli(["push", `${tmp.dir}/src`, "--exec", server, "--key", "k", "--json"]);
    assert.equal(push.code, 0, push.stderr);
    assert.equal(JSON.parse(push.stdout).added, 1);
    assert.match(push.stderr, /skipped pipe: devices, fifos and sockets are not pushed/);
  });

  it("push tries once more when a file changed while it was sent, then fails naming it; the server stays usable", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    writeTree(disk, tmp.dir, { "src/": "", "src/x": "x", "src/grows.log": "start\n" });
    // Appends for as long as it runs: each walk's size of the log is out of date by the
    // time the server asks for the file.
    const writer = spawn("sh", ["-c", `while :; do echo line >> ${shellQuote(`${src}/grows.log`)}; done`], {
      stdio: "ignore",
    });
    const [command, prefix] = cliCommand();
    const server = [command, ...prefix, "serve", "--stdio", "-q", "--root", `${tmp.dir}/cache`]
      .map(shellQuote)
      .join(" ");
    try {
      assert.ok(await pollUntil(5000, () => disk.statSync(`${src}/grows.log`).size > 1000), "the writer runs");
      const push = await cli(["push", src, "--exec", server, "--key", "k"]);
      assert.equal(push.code, 1, push.stderr);
      const changed = "ERR_SOURCE_CHANGED: source file changed while it was sent: grows.log (it grew past the";
      const lines = push.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 2, push.stderr);
      assert.ok(lines[0]?.startsWith(changed) && lines[0].endsWith(" bytes walked); pushing again"), push.stderr);
      assert.ok(lines[1]?.startsWith(`fscache push: ${changed}`), push.stderr);
    } finally {
      writer.kill();
    }
    await new Promise((exited) => writer.once("exit", exited));
    const again = await cli(["push", src, "--exec", server, "--key", "k", "--json"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).checksum, (await cli(["checksum", src])).stdout.trim());
  });

  it("push --exec reports a refusal the server sent as the server's error, though the server then exits", async () => {
    using tmp = tempDir();
    writeTree(disk, tmp.dir, { "src/": "", "src/x": "x", token: "secret" });
    const [command, prefix] = cliCommand();
    const server = [command, ...prefix, "serve", "--stdio", "-q", "--root", `${tmp.dir}/cache`]
      .concat("--token-file", `${tmp.dir}/token`)
      .map(shellQuote)
      .join(" ");
    const push = await cli(["push", `${tmp.dir}/src`, "--exec", server, "--key", "k"]);
    assert.equal(push.code, 1);
    assert.match(push.stderr, /ERR_AUTH/);
    assert.doesNotMatch(push.stderr, /ERR_EXEC_EXITED/);
  });

  it("push --exec stops a command still running when the push fails", { timeout: 20_000 }, async () => {
    using tmp = tempDir();
    writeTree(disk, tmp.dir, { "src/": "", "src/x": "x" });
    // Not the protocol: the push fails on the first frame, and must not wait out the sleep.
    const push = await cli(["push", `${tmp.dir}/src`, "--exec", "echo not-fscache; exec sleep 60", "--key", "k"]);
    assert.equal(push.code, 1);
    assert.match(push.stderr, /ERR_PROTOCOL: the server's first reply is not fscache's protocol \(frame of \d+ bytes/);
  });

  it("push and pull --to a port that speaks something else say so", async () => {
    using tmp = tempDir();
    writeTree(disk, tmp.dir, { "src/": "", "src/x": "x" });
    // A web server's answer to bytes it does not understand (it reads what comes, so that
    // it sees the client close).
    const server = createServer((socket) => socket.resume().end("HTTP/1.1 400 Bad Request\r\n\r\n"));
    await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
    const { port } = server.address() as AddressInfo;
    try {
      const push = await cli(["push", `${tmp.dir}/src`, "--to", `127.0.0.1:${port}`, "--key", "k"]);
      const pull = await cli(["pull", "k", `${tmp.dir}/out`, "--from", `127.0.0.1:${port}`]);
      for (const run of [push, pull]) {
        assert.equal(run.code, 1, run.stderr);
        assert.match(run.stderr, /ERR_PROTOCOL: the server's first reply is not fscache's protocol .*fscache serve/);
      }
    } finally {
      await new Promise((closed) => server.close(closed));
    }
  });

  it("refuses a non-loopback --listen without a token, and a push with a wrong token", async () => {
    using tmp = tempDir();
    const insecure = await cli(["serve", "--root", `${tmp.dir}/cache`, "--listen", "0.0.0.0:0"]);
    assert.equal(insecure.code, 1);
    assert.match(insecure.stderr, /ERR_INSECURE/);
    disk.writeFileSync(`${tmp.dir}/token`, "right\n");
    disk.writeFileSync(`${tmp.dir}/bad`, "wrong\n");
    disk.mkdirSync(`${tmp.dir}/src`);
    const serve = spawnCli([
      "serve",
      "--root",
      `${tmp.dir}/cache`,
      "--listen",
      "127.0.0.1:0",
      "--token-file",
      `${tmp.dir}/token`,
    ]);
    try {
      const port = await listeningPort(serve.child);
      const bad = await cli(["push", `${tmp.dir}/src`, "--to", `127.0.0.1:${port}`, "--token-file", `${tmp.dir}/bad`]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /ERR_AUTH/);
      const good = await cli([
        "push",
        `${tmp.dir}/src`,
        "--to",
        `127.0.0.1:${port}`,
        "--token-file",
        `${tmp.dir}/token`,
      ]);
      assert.equal(good.code, 0, good.stderr);
    } finally {
      serve.child.kill("SIGINT");
    }
    assertStopped(await serve.exit);
  });
});
