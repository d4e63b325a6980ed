/** Child processes for the diff-copy tests: the fsutil peer (built from Go at test time) and the CLI. */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { DiffCopyConnection } from "../transports/diffcopy/framing.ts";
import { nodeConnection } from "../transports/diffcopy/node_streams.ts";
import { projectRoot } from "./_helpers.ts";

const peerPaths = new Map<string, string>();

/**
 * Builds tests/fsutil_peer (BuildKit's fsutil over stdio) once per test process, offline,
 * against the Debian packaged sources (override with FSUTIL_GOPATH). Missing Go is a
 * failure, not a skip: the interop tests are the proof that we speak fsutil's protocol.
 */
export function fsutilPeer(): string {
  return goPeer("fsutil_peer");
}

/**
 * Builds tests/tarsum_peer (Docker's own `pkg/tarsum`, which the fsutil package depends
 * on) the same way: the reference TarSum the archive tests compare with.
 */
export function tarsumPeer(): string {
  return goPeer("tarsum_peer");
}

function goPeer(name: string): string {
  const built = peerPaths.get(name);
  if (built) return built;
  try {
    execFileSync("go", ["version"], { stdio: "ignore" });
  } catch {
    throw new Error(
      "the Go reference peers need Go and fsutil: apt-get install golang-go golang-github-tonistiigi-fsutil-dev",
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "fscache-"));
  // Every test process builds its own copy; without this each run left a 3 MB binary behind.
  // (Deno's test runner ends without Node's "exit" event, but fires "unload".)
  const remove = () => rmSync(dir, { recursive: true, force: true });
  process.on("exit", remove);
  globalThis.addEventListener?.("unload", remove);
  const out = join(dir, name);
  const env: Record<string, string | undefined> = {
    ...process.env,
    GO111MODULE: "off",
    GOPATH: process.env.FSUTIL_GOPATH ?? "/usr/share/gocode",
    GOPROXY: "off",
    GOFLAGS: "",
  };
  if (!env.HOME && !env.GOCACHE) env.GOCACHE = join(tmpdir(), "fscache-go-build");
  execFileSync("go", ["build", "-o", out, "main.go"], {
    cwd: `${projectRoot()}/tests/${name}`,
    env,
    stdio: "pipe",
  });
  peerPaths.set(name, out);
  return out;
}

/** A running child whose stdin/stdout carry the protocol. */
export interface Peer {
  child: ChildProcess;
  /** Wraps its stdio as a connection (don't also `connect` it to another child). */
  connection(): DiffCopyConnection;
  /** Resolves with the exit code and what the child printed to stderr. */
  exit: Promise<{ code: number | null; stderr: string }>;
}

export function spawnPeer(command: string, args: string[]): Peer {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += String(d);
  });
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    child.on("close", (code) => resolve({ code, stderr }));
  });
  return { child, connection: () => nodeConnection(child.stdout!, child.stdin!), exit };
}

/**
 * A clean exit after the shutdown signal. Deno's `child_process` reports a child that
 * was sent a signal as killed by it (code null) even when it handled it and exited 0,
 * so there the "stopped" line, printed after the cache closed, is the evidence.
 */
export function assertStopped(exit: { code: number | null; stderr: string }): void {
  const deno = "Deno" in globalThis;
  assert.ok(exit.code === 0 || (deno && exit.code === null), `exit code ${exit.code}: ${exit.stderr}`);
  assert.match(exit.stderr, /shutting down[\s\S]*stopped\n$/);
}

/** The fscache CLI as a child process, under the runtime running the tests. */
export function cliCommand(): [string, string[]] {
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  if (deno) return [deno.execPath(), ["run", "-A", `${projectRoot()}/cli/main.ts`]];
  return [process.execPath, [`${projectRoot()}/.test-build/cli/main.js`]];
}

/**
 * The arguments to `process.execPath` that run the command line as its users do: on
 * Node the built npm bin (a bundle, loaded through its code cache), on Deno the source.
 */
export function binEntry(): string[] {
  return "Deno" in globalThis
    ? ["run", "-A", join(projectRoot(), "cli/main.ts")]
    : [join(projectRoot(), "dist/cli/bin.cjs")];
}

export function spawnCli(args: string[]): Peer {
  const [command, prefix] = cliCommand();
  return spawnPeer(command, [...prefix, ...args]);
}

/** Connects two children's stdio to each other (a's stdout → b's stdin and back). */
export function connect(a: Peer, b: Peer): void {
  a.child.stdout!.pipe(b.child.stdin!);
  b.child.stdout!.pipe(a.child.stdin!);
}

/** Resolves with the port once the child prints "listening on HOST:PORT". */
export function listeningPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let seen = "";
    child.stdout?.on("data", (d) => {
      seen += String(d);
      const match = /listening on 127\.0\.0\.1:(\d+)/.exec(seen);
      if (match) resolve(Number(match[1]));
    });
    child.on("close", () => reject(new Error(`serve exited before listening: ${seen}`)));
  });
}
