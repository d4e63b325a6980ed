/**
 * Kills the real CLI with SIGKILL at seeded random moments and checks what it leaves:
 * `fscache sync` processes, and `fscache serve` processes with `fscache push` clients
 * talking to them. Between rounds the source trees are edited (seeded). After every kill:
 * `fscache ls` works and parses, nothing is left holding a reference or the lock, every
 * sync or push the victim acknowledged before it died is there and equals its source, a
 * resync (re-push) gives a snapshot equal to the source (content, modes, symlinks, mtimes)
 * with the checksum `fscache checksum` computes, and `fscache gc` runs.
 *
 * The victims are real processes; the checks run the CLI in this process (same code,
 * no start-up cost), so the tests can afford many kills.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as nodeFs from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ChildResult, childResult } from "../_child.ts";
import { cli } from "../_cli.ts";
import { seededRandom } from "../_helpers.ts";
import { cliCommand, listeningPort } from "../_processes.ts";
import { assertSnapshotOf, editTree, makeSource, mismatch } from "./_workload.ts";

/** How many kills of each kind, and from which seed. */
export interface KillRunOptions {
  seed: number;
  /** Kills of `fscache sync` that landed while it ran. */
  syncKills: number;
  /** Kills of `fscache serve` that landed while it ran (with pushes in flight, or while starting). */
  serveKills: number;
  /** Files in each generated source tree (default 40). */
  files?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What the kills did and what the checks found. */
export interface KillRunReport {
  seed: number;
  syncKills: number;
  serveKills: number;
  /** Victims that finished before their kill came (not counted as kills; their result is checked). */
  finishedFirst: number;
  /** Kills after which `ls` showed a stale snapshot: the victim died mid-transfer. */
  staleAfterKill: number;
  /** Push clients whose server died under them (they must exit with an error, not hang). */
  pushesInterrupted: number;
  /** Syncs and pushes that reported success before a kill, checked afterwards. */
  acknowledgedChecked: number;
  /** Snapshots compared byte for byte (and by checksum) with their source. */
  verified: number;
  /** Commands that failed after a kill (ls, resync, gc, a hung client): each a description. */
  failures: string[];
  /** Snapshots that differ from their source or went missing after being acknowledged. */
  dataLost: string[];
  durationMs: number;
}

interface Acknowledged {
  key: string;
  dir: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spawnCliProcess(args: string[]): ChildProcess {
  const [command, prefix] = cliCommand();
  return spawn(command, [...prefix, ...args], { stdio: ["ignore", "pipe", "pipe"] });
}

/** The result of a child, or undefined if it has not exited after `ms` (it is then killed). */
async function resultWithin(child: ChildProcess, result: Promise<ChildResult>, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  const outcome = await Promise.race([result, timeout]);
  clearTimeout(timer);
  if (outcome === undefined) {
    child.kill("SIGKILL");
    await result;
  }
  return outcome;
}

/** Resolves true once `root/lock` names `pid` (the victim has opened the cache), false after `ms`. */
async function lockTakenBy(root: string, pid: number | undefined, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    try {
      if (JSON.parse(nodeFs.readFileSync(`${root}/lock`, "utf8")).pid === pid) return true;
    } catch {
      // not there yet, or being replaced
    }
    await sleep(3);
  }
  return false;
}

class KillRun {
  readonly random: () => number;
  readonly report: KillRunReport;
  readonly #tmp = mkdtempSync(join(tmpdir(), "fscache-"));
  readonly root = join(this.#tmp, "cache");
  readonly src = join(this.#tmp, "src");
  readonly clients = [join(this.#tmp, "client0"), join(this.#tmp, "client1")];
  /** The pushing clients' own cache root (their listings), never the home directory's. */
  readonly pushRoot = join(this.#tmp, "push-root");
  #syncMs = 0;
  #fullSyncMs = 0;
  /** From spawn until a sync holds the lock. */
  #openMs = 0;
  #serveStartMs = 0;
  #pushMs = 0;

  constructor(readonly options: KillRunOptions) {
    this.random = seededRandom(options.seed);
    this.report = {
      seed: options.seed,
      syncKills: 0,
      serveKills: 0,
      finishedFirst: 0,
      staleAfterKill: 0,
      pushesInterrupted: 0,
      acknowledgedChecked: 0,
      verified: 0,
      failures: [],
      dataLost: [],
      durationMs: 0,
    };
    const files = options.files ?? 40;
    makeSource(this.src, options.seed, { files });
    for (const [i, dir] of this.clients.entries())
      makeSource(dir, options.seed + i + 1, { files: Math.ceil(files / 2) });
  }

  log(line: string): void {
    this.options.log?.(line);
  }

  fail(what: string): void {
    this.report.failures.push(what);
    this.log(`FAILED: ${what}`);
  }

  /** Removes the sources and the cache, unless a check failed: then they stay for a post-mortem. */
  dispose(): void {
    if (this.report.failures.length + this.report.dataLost.length === 0)
      rmSync(this.#tmp, { recursive: true, force: true });
    else this.log(`kept for inspection: ${this.#tmp}`);
  }

  /** How long unkilled victims take here and now: the kill moments are drawn from these. */
  async calibrate(): Promise<void> {
    const time = async (args: string[]) => {
      const started = performance.now();
      const r = await childResult(spawnCliProcess(args));
      if (r.code !== 0) throw new Error(`fscache ${args[0]} failed before any kill: ${r.stderr}`);
      return performance.now() - started;
    };
    this.#fullSyncMs = await time(["sync", this.src, "--root", this.root, "--json"]);
    const opening = performance.now();
    const child = spawnCliProcess(["sync", this.src, "--root", this.root, "--json"]);
    const synced = childResult(child);
    if (await lockTakenBy(this.root, child.pid, 30_000)) this.#openMs = performance.now() - opening;
    await synced;
    this.#syncMs = await time(["sync", this.src, "--root", this.root, "--json"]);
    const started = performance.now();
    const serve = spawnCliProcess(["serve", "--root", this.root, "--listen", "127.0.0.1:0", "-q"]);
    const served = childResult(serve);
    const port = await listeningPort(serve);
    this.#serveStartMs = performance.now() - started;
    const pushed = performance.now();
    await Promise.all(
      this.clients.map((dir) => time(["push", dir, "--to", `127.0.0.1:${port}`, "--root", this.pushRoot, "--json"])),
    );
    this.#pushMs = performance.now() - pushed;
    serve.kill("SIGTERM");
    await served;
    this.log(
      `calibrated: full sync ${this.#fullSyncMs.toFixed(0)} ms, resync ${this.#syncMs.toFixed(0)} ms ` +
        `(${this.#openMs.toFixed(0)} ms to open the cache), ` +
        `serve start ${this.#serveStartMs.toFixed(0)} ms, two pushes ${this.#pushMs.toFixed(0)} ms`,
    );
  }

  async syncRound(round: number): Promise<void> {
    const edits = editTree(this.src, this.random, 1 + Math.floor(this.random() * 8));
    // Three rounds in ten start a new shared key: a full copy, a wide window to die in.
    const full = this.random() < 0.3;
    // Two kills in three wait until the cache is open (start-up is most of a short sync's life).
    const afterOpen = this.random() < 2 / 3;
    const span = (full ? this.#fullSyncMs : this.#syncMs) - (afterOpen ? this.#openMs : 0);
    const delay = this.random() * 1.2 * Math.max(span, 50);
    const args = ["sync", this.src, "--root", this.root, "--json", ...(full ? ["--shared-key", `fresh-${round}`] : [])];
    const staleBefore = await this.staleKeys(round);
    const victim = spawnCliProcess(args);
    const result = childResult(victim);
    if (afterOpen) await lockTakenBy(this.root, victim.pid, 30_000);
    await sleep(delay);
    victim.kill("SIGKILL");
    const { signal, code, stdout, stderr } = await result;
    const acknowledged: Acknowledged[] = [];
    if (signal === "SIGKILL") this.report.syncKills++;
    else {
      this.report.finishedFirst++;
      if (code === 0) acknowledged.push({ key: JSON.parse(stdout).key, dir: this.src });
      else this.fail(`round ${round}: sync failed by itself (${code}): ${stderr.trim()}`);
    }
    this.log(
      `round ${round}: sync ${full ? "full" : "incremental"} after [${edits.join(" ")}], ` +
        `${signal === "SIGKILL" ? "killed" : "finished"} at ${delay.toFixed(0)} ms${afterOpen ? " after open" : ""}`,
    );
    await this.afterKill(round, signal === "SIGKILL", staleBefore, acknowledged, async () => {
      const r = await cli(["sync", this.src, "--root", this.root, "--json"]);
      if (r.code !== 0) return this.fail(`round ${round}: resync exited ${r.code}: ${r.stderr.trim()}`);
      await this.verify(`round ${round}: resync`, JSON.parse(r.stdout), this.src);
    });
  }

  async serveRound(round: number): Promise<void> {
    for (const dir of this.clients) editTree(dir, this.random, Math.floor(this.random() * 6), { maxFiles: 40 });
    const staleBefore = await this.staleKeys(round);
    const victim = spawnCliProcess(["serve", "--root", this.root, "--listen", "127.0.0.1:0"]);
    const result = childResult(victim);
    const pushes: { child: ChildProcess; result: Promise<ChildResult>; dir: string }[] = [];
    // One kill in six lands while the server starts (opening the cache), the rest under pushes.
    const early = this.random() < 1 / 6;
    const delay = this.random() * 1.2 * (early ? this.#serveStartMs : this.#pushMs);
    if (early) await sleep(delay);
    else {
      const port = await listeningPort(victim).catch(() => undefined);
      if (port === undefined)
        return this.fail(`round ${round}: serve exited before listening: ${(await result).stderr}`);
      for (const dir of this.clients) {
        const fresh = this.random() < 0.3 ? ["--shared-key", `fresh-${round}-${pushes.length}`] : [];
        const child = spawnCliProcess([
          "push",
          dir,
          "--to",
          `127.0.0.1:${port}`,
          "--root",
          this.pushRoot,
          "--json",
          ...fresh,
        ]);
        pushes.push({ child, result: childResult(child), dir });
      }
      await sleep(delay);
    }
    victim.kill("SIGKILL");
    const { signal, stderr } = await result;
    if (signal === "SIGKILL") this.report.serveKills++;
    else {
      this.report.finishedFirst++;
      this.fail(`round ${round}: serve exited by itself: ${stderr.trim()}`);
    }
    const acknowledged: Acknowledged[] = [];
    for (const push of pushes) {
      // A client whose server died must fail promptly, not hang.
      const r = await resultWithin(push.child, push.result, 60_000);
      if (r === undefined) this.fail(`round ${round}: push hung after its server was killed`);
      else if (r.code === 0) acknowledged.push({ key: JSON.parse(r.stdout).key, dir: push.dir });
      else this.report.pushesInterrupted++;
    }
    this.log(
      `round ${round}: serve killed at ${delay.toFixed(0)} ms ${early ? "while starting" : "under pushes"}, ` +
        `${acknowledged.length}/${pushes.length} pushes acknowledged`,
    );
    await this.afterKill(round, signal === "SIGKILL", staleBefore, acknowledged, () => this.repush(round));
  }

  /** Restarts the server, pushes every client again, stops it, and checks the snapshots. */
  async repush(round: number): Promise<void> {
    const serve = spawnCliProcess(["serve", "--root", this.root, "--listen", "127.0.0.1:0", "-q"]);
    const served = childResult(serve);
    const port = await listeningPort(serve).catch(() => undefined);
    if (port === undefined) return this.fail(`round ${round}: restarted serve failed: ${(await served).stderr.trim()}`);
    const pushed: { checksum: string; key: string; dir: string }[] = [];
    try {
      for (const dir of this.clients) {
        const r = await cli(["push", dir, "--to", `127.0.0.1:${port}`, "--json"]);
        if (r.code === 0) pushed.push({ ...JSON.parse(r.stdout), dir });
        else this.fail(`round ${round}: re-push exited ${r.code}: ${r.stderr.trim()}`);
      }
    } finally {
      serve.kill("SIGTERM");
      await served;
    }
    const listed = await this.ls(round);
    for (const p of pushed) {
      const path = listed?.find((s) => s.key === p.key)?.path;
      if (path === undefined) this.report.dataLost.push(`round ${round}: re-pushed ${p.key} is not listed`);
      else await this.verify(`round ${round}: re-push`, { path, checksum: p.checksum }, p.dir);
    }
  }

  async ls(round: number): Promise<{ key: string; path: string; refs: number; stale: boolean }[] | undefined> {
    const r = await cli(["ls", "--root", this.root, "--json"]);
    if (r.code !== 0) {
      this.fail(`round ${round}: ls exited ${r.code}: ${r.stderr.trim()}`);
      return undefined;
    }
    try {
      return JSON.parse(r.stdout);
    } catch {
      this.fail(`round ${round}: ls printed what is not JSON: ${r.stdout.slice(0, 200)}`);
      return undefined;
    }
  }

  async staleKeys(round: number): Promise<Set<string>> {
    return new Set((await this.ls(round))?.filter((s) => s.stale).map((s) => s.key));
  }

  /** The checks every kill is followed by. */
  async afterKill(
    round: number,
    killed: boolean,
    staleBefore: Set<string>,
    acknowledged: Acknowledged[],
    resync: () => Promise<void>,
  ) {
    const listed = await this.ls(round);
    if (listed) {
      const held = listed.filter((s) => s.refs > 0);
      if (held.length > 0) this.fail(`round ${round}: references held after the kill: ${JSON.stringify(held)}`);
      if (killed && listed.some((s) => s.stale && !staleBefore.has(s.key))) this.report.staleAfterKill++;
      for (const ack of acknowledged) {
        const source = listed.find((s) => s.key === ack.key);
        if (!source || source.stale) {
          this.report.dataLost.push(`round ${round}: acknowledged ${ack.key} is ${source ? "stale" : "gone"}`);
          continue;
        }
        this.report.acknowledgedChecked++;
        await this.verify(`round ${round}: acknowledged ${ack.key}`, { path: source.path }, ack.dir);
      }
    }
    await resync();
    const gc = await cli(["gc", "--root", this.root, "--max-size", "16MiB", "--json"]);
    if (gc.code !== 0) this.fail(`round ${round}: gc exited ${gc.code}: ${gc.stderr.trim()}`);
  }

  /** A snapshot equals its source: bytes, modes, symlinks, mtimes, and the checksum when one was reported. */
  async verify(what: string, snapshot: { path: string; checksum?: string }, dir: string): Promise<void> {
    try {
      assertSnapshotOf(dir, snapshot.path);
      const expected = JSON.parse((await cli(["checksum", dir, "--json"])).stdout).checksum;
      const fresh = JSON.parse((await cli(["checksum", snapshot.path, "--json"])).stdout).checksum;
      if (fresh !== expected) throw new Error(`snapshot scans to ${fresh}, source to ${expected}`);
      if (snapshot.checksum !== undefined && snapshot.checksum !== expected) {
        throw new Error(`reported ${snapshot.checksum}, source is ${expected}`);
      }
      this.report.verified++;
    } catch (err) {
      const message = mismatch(err);
      this.report.dataLost.push(`${what}: ${message}`);
      this.log(`DATA LOST: ${what}: ${message}`);
    }
  }
}

/**
 * Runs kill rounds until the wanted number of kills of each kind has landed (a victim
 * that finishes before its kill does not count; its result is checked instead).
 *
 * @example
 * ```ts
 * const report = await runKills({ seed: 7, syncKills: 20, serveKills: 10 });
 * assert.deepEqual([report.failures, report.dataLost], [[], []]);
 * ```
 */
export async function runKills(options: KillRunOptions): Promise<KillRunReport> {
  const started = performance.now();
  const run = new KillRun(options);
  try {
    await run.calibrate();
    const { report } = run;
    const limit = 3 * (options.syncKills + options.serveKills) + 10;
    for (let round = 1; round <= limit; round++) {
      const syncsLeft = options.syncKills - report.syncKills;
      const servesLeft = options.serveKills - report.serveKills;
      if (syncsLeft <= 0 && servesLeft <= 0) break;
      // Interleaved, so a serve kill meets what sync kills left behind and the other way round.
      const serveTurn = servesLeft > 0 && (syncsLeft <= 0 || run.random() < servesLeft / (syncsLeft + servesLeft));
      if (serveTurn) await run.serveRound(round);
      else await run.syncRound(round);
    }
    report.durationMs = performance.now() - started;
    return report;
  } finally {
    run.dispose();
  }
}
