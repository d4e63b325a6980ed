/**
 * Names and symlink targets that are not UTF-8, on the real disk: a local sync (through
 * the cache, inline and in worker threads, and `fscache sync`), a push session (`fscache
 * push` into a session server whose files are written by a worker thread) and a diff-copy
 * send → receive (also with BuildKit's fsutil at either end) each make a copy with
 * exactly the source's bytes, report them added, find nothing to do the second time, and
 * hash the copy as `fscache checksum` hashes the source. A name that is valid UTF-8
 * holding U+FFFD itself stays that name. Deno's `node:fs` cannot reach such names at all:
 * there they fail loudly, never skipped or written as U+FFFD.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { execFileSync } from "node:child_process";
import * as nodeFs from "node:fs";
import process from "node:process";
import { after, describe, it } from "node:test";
import { diskFileSystem } from "../backends/disk_fs.ts";
import type { CliIO } from "../cli/command.ts";
import { createDiffcopyCommand } from "../cli/commands/diffcopy.ts";
import { FSCache, FSCacheError, LocalTransport, type SyncSummary } from "../mod.ts";
import type { ReceivedFileBatch } from "../transports/diffcopy/file_batches.ts";
import { memoryPipe } from "../transports/diffcopy/memory_pipe.ts";
import { receiveDiffCopy } from "../transports/diffcopy/receiver.ts";
import { sendDiffCopy } from "../transports/diffcopy/sender.ts";
import { diskWalkThreads, diskWriteThreads } from "../transports/local/diffcopy_threads.ts";
import { listenSessions } from "../transports/session/tcp.ts";
import { cli } from "./_cli.ts";
import { pipeSync, recordingUpdater, tempDir } from "./_diffcopy.ts";
import { fsutilPeer, spawnPeer } from "./_processes.ts";
import { sessionFixture, snapshotOf } from "./_session.ts";

/** Deno's `node:fs` turns byte paths and byte listings into text (U+FFFD). */
const bytePaths = !("Deno" in globalThis);

/**
 * Made by `sh`: no JavaScript string API creates such names, and Deno's byte paths do
 * not either. U+FFFD is `\357\277\275` in UTF-8.
 */
const FFFD_TREE = String.raw`
printf plain > plain.txt
printf z > "$(printf 'real\357\277\275')"
mkdir "$(printf 'e\357\277\275')"
ln -s "$(printf '../real\357\277\275')" "$(printf 'e\357\277\275/up')"
`;
const RAW_TREE = String.raw`
printf x > "$(printf 'a\377')"
mkdir "$(printf 'd\303')"
printf yy > "$(printf 'd\303/f\376')"
ln -s "$(printf '../a\377')" "$(printf 'd\303/up')"
ln -s "$(printf 't\376')" l
`;

/** What {@linkcode listBytes} gives for each tree, in byte order. */
const FFFD_LISTING = [
  "dir e\\xef\\xbf\\xbd",
  "link e\\xef\\xbf\\xbd/up -> ../real\\xef\\xbf\\xbd",
  'file plain.txt "plain"',
  'file real\\xef\\xbf\\xbd "z"',
];
const RAW_LISTING = [
  'file a\\xff "x"',
  "dir d\\xc3",
  'file d\\xc3/f\\xfe "yy"',
  "link d\\xc3/up -> ../a\\xff",
  ...FFFD_LISTING.slice(0, 2),
  "link l -> t\\xfe",
  ...FFFD_LISTING.slice(2),
];

/** The trees tested: names that are not UTF-8 only where the runtime can reach them. */
const TREES = [
  { name: "names that are not UTF-8", raw: true, listing: RAW_LISTING, entries: 9 },
  { name: "names holding U+FFFD itself", raw: false, listing: FFFD_LISTING, entries: 4 },
];

function makeTree(root: string, raw: boolean): string {
  nodeFs.mkdirSync(root, { recursive: true });
  execFileSync("sh", ["-ec", `cd "$ROOT"\n${FFFD_TREE}${raw ? RAW_TREE : ""}`], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ROOT: root },
  });
  return root;
}

function show(bytes: Uint8Array): string {
  return Array.from(bytes, (b) =>
    b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`,
  ).join("");
}

/** Every entry below `root` as the disk holds it: names, link targets and contents as bytes. */
function listBytes(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: Buffer, rel: string) => {
    const names = nodeFs.readdirSync(dir, { encoding: "buffer" }) as Buffer[];
    for (const name of names.sort(Buffer.compare)) {
      const full = Buffer.concat([dir, Buffer.from("/"), name]);
      const path = `${rel}${show(name)}`;
      const st = nodeFs.lstatSync(full);
      if (st.isDirectory()) {
        out.push(`dir ${path}`);
        walk(full, `${path}/`);
      } else if (st.isSymbolicLink()) {
        out.push(`link ${path} -> ${show(nodeFs.readlinkSync(full, { encoding: "buffer" }))}`);
      } else out.push(`file ${path} ${JSON.stringify(nodeFs.readFileSync(full, "latin1"))}`);
    }
  };
  walk(Buffer.from(root), "");
  return out;
}

async function checksumOf(dir: string): Promise<string> {
  const r = await cli(["checksum", dir]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/** True for the loud failure a runtime without byte paths must give. */
function unsupportedName(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === "ERR_UNSUPPORTED_NAME" || (err instanceof Error && /not valid UTF-8|not UTF-8/.test(err.message));
}

const tmp = tempDir();
after(() => tmp[Symbol.dispose]());
let cases = 0;
const fresh = (label: string) => `${tmp.dir}/${label}-${cases++}`;

for (const tree of TREES) {
  const unreachable = tree.raw && !bytePaths;

  describe(`a local sync of ${tree.name}`, () => {
    for (const threads of [true, false]) {
      it(`through the cache (${threads ? "worker threads" : "inline"}) copies their bytes`, async () => {
        const src = makeTree(fresh("src"), tree.raw);
        const summaries: SyncSummary[] = [];
        // `smallSync: 0 files` and `parallelWalk: 1` send even this small sync to the workers.
        const transport = new LocalTransport({
          threads,
          concurrency: 2,
          smallSync: { files: 0 },
          parallelWalk: 1,
          onSummary: (s) => summaries.push(s),
        });
        const cache = await FSCache.open({ root: fresh("cache"), gcInterval: 0 });
        cache.registerTransport("local", transport);
        try {
          const sync = async (key: string) => {
            await using source = await cache.syncFrom({ key, sharedKey: "s", transport: "local", path: src });
            return { root: source.root, checksum: await source.hash(".") };
          };
          if (unreachable) {
            await assert.rejects(sync("k1"), unsupportedName);
            return;
          }
          const first = await sync("k1");
          assert.deepEqual(listBytes(first.root), tree.listing);
          assert.deepEqual(listBytes(src), tree.listing);
          assert.deepEqual([summaries[0]?.added, summaries[0]?.skipped], [tree.entries, []]);
          const again = await sync("k2");
          assert.equal(again.root, first.root, "rebased onto the first snapshot");
          const { added, modified, deleted, bytesCopied } = summaries[1] as SyncSummary;
          assert.deepEqual([added, modified, deleted, bytesCopied], [0, 0, 0, 0]);
          const expected = await checksumOf(src);
          assert.equal(first.checksum, expected);
          assert.equal(again.checksum, expected);
          assert.equal(await checksumOf(first.root), expected);
          // Pruned, the snapshot goes, such names and all.
          assert.ok((await cache.prune()) > 0);
          assert.equal(nodeFs.existsSync(first.root), false);
        } finally {
          await cache.close();
          await transport.close();
        }
      });
    }

    it("with `fscache sync` copies their bytes", async () => {
      const src = makeTree(fresh("src"), tree.raw);
      const root = fresh("cache");
      const sync = async () => {
        const r = await cli(["sync", src, "--root", root, "--json", "--shared-key", "s"]);
        if (unreachable) {
          assert.equal(r.code, 1);
          assert.match(r.stderr, /not UTF-8|not valid UTF-8/);
          return undefined;
        }
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout) as { path: string; checksum: string; added: number; modified: number };
      };
      const first = await sync();
      if (!first) return;
      assert.deepEqual(listBytes(first.path), tree.listing);
      assert.equal(first.added, tree.entries);
      const again = await sync();
      assert.deepEqual([again?.added, again?.modified, again?.path], [0, 0, first.path]);
      const expected = await checksumOf(src);
      assert.equal(first.checksum, expected);
      assert.equal(await checksumOf(first.path), expected);
    });
  });

  describe(`a push of ${tree.name}`, () => {
    it("with `fscache push` into a session server copies their bytes", async () => {
      const threads = diskWriteThreads(1);
      let batches = 0;
      // every received file written by the worker thread
      const writeThreads = {
        ...threads,
        minFiles: 1,
        write(batch: ReceivedFileBatch) {
          batches++;
          return threads.write(batch);
        },
      };
      await using f = await sessionFixture({ receive: { writeThreads } });
      const listener = await listenSessions(f.server, "127.0.0.1", 0);
      try {
        makeTree(f.src, tree.raw);
        const push = async (key: string) => {
          const args = ["push", f.src, "--to", `127.0.0.1:${listener.port}`, "--key", key, "--shared-key", "s"];
          const r = await cli([...args, "--json"]);
          if (unreachable) {
            assert.equal(r.code, 1);
            assert.match(r.stderr, /not UTF-8|not valid UTF-8/);
            return undefined;
          }
          assert.equal(r.code, 0, r.stderr);
          return JSON.parse(r.stdout) as Record<string, number | string>;
        };
        const first = await push("k1");
        if (!first) return;
        const snapshot = await snapshotOf(f.cache, "k1");
        assert.deepEqual(listBytes(snapshot), tree.listing);
        assert.equal(first.added, tree.entries);
        assert.ok(batches > 0, "files written by the worker thread");
        const again = await push("k2");
        const counts = [again?.added, again?.modified, again?.deleted, again?.filesSent];
        assert.deepEqual(counts, [0, 0, 0, 0]);
        const expected = await checksumOf(f.src);
        assert.equal(first.checksum, expected);
        assert.equal(again?.checksum, expected);
        assert.equal(await checksumOf(snapshot), expected);
      } finally {
        await listener.close();
        await threads.close();
      }
    });

    it("walked by a worker thread gives their names and targets", async () => {
      const src = makeTree(fresh("src"), tree.raw);
      const threads = diskWalkThreads(2);
      try {
        const only = tree.raw ? ["a\udcff", "d\udcc3", "e\ufffd", "l", "plain.txt"] : ["e\ufffd", "plain.txt"];
        const walking = threads.walk({ root: src, excludes: [], only });
        if (unreachable) {
          await assert.rejects(walking, unsupportedName);
          return;
        }
        const run = await walking;
        const links = new Map(run.paths.map((p, i) => [p, run.links[i]]));
        const expected: [string, string][] = [
          ["e\ufffd", ""],
          ["e\ufffd/up", "../real\ufffd"],
          ["plain.txt", ""],
        ];
        if (tree.raw) {
          expected.unshift(["a\udcff", ""], ["d\udcc3", ""], ["d\udcc3/f\udcfe", ""], ["d\udcc3/up", "../a\udcff"]);
          expected.splice(6, 0, ["l", "t\udcfe"]);
        }
        assert.deepEqual([...links], expected);
      } finally {
        await threads.close();
      }
    });
  });

  describe(`a diff-copy send → receive of ${tree.name}`, () => {
    it("copies their bytes, and a second one changes nothing", async () => {
      const src = makeTree(fresh("src"), tree.raw);
      const dest = fresh("dest");
      nodeFs.mkdirSync(dest);
      const copy = () => pipeSync({ fs: diskFileSystem, root: src }, { dest, fs: diskFileSystem });
      if (unreachable) {
        await assert.rejects(copy(), unsupportedName);
        return;
      }
      const first = await copy();
      assert.deepEqual(listBytes(dest), tree.listing);
      assert.equal(first.received.added, tree.entries);
      const again = await copy();
      const { added, modified, deleted, filesReceived } = again.received;
      assert.deepEqual([added, modified, deleted, filesReceived], [0, 0, 0, 0]);
      assert.equal(await checksumOf(dest), await checksumOf(src));
    });

    it("from BuildKit's fsutil.Send writes their bytes", async () => {
      const src = makeTree(fresh("src"), tree.raw);
      const dest = fresh("dest");
      nodeFs.mkdirSync(dest);
      const peer = spawnPeer(fsutilPeer(), ["send", src]);
      const receiving = receiveDiffCopy(peer.connection(), { dest, fs: diskFileSystem, updater: recordingUpdater() });
      if (unreachable) {
        await assert.rejects(receiving, unsupportedName);
        await peer.exit;
        return;
      }
      const result = await receiving;
      const { code, stderr } = await peer.exit;
      assert.equal(code, 0, stderr);
      assert.deepEqual(listBytes(dest), tree.listing);
      assert.equal(result.added, tree.entries);
      assert.equal(await checksumOf(dest), await checksumOf(src));
    });

    it("to BuildKit's fsutil.Receive sends their bytes", async (t) => {
      if (unreachable) return t.skip("this runtime cannot read such names (tested above)");
      const src = makeTree(fresh("src"), tree.raw);
      const dest = fresh("dest");
      nodeFs.mkdirSync(dest);
      const peer = spawnPeer(fsutilPeer(), ["receive", dest]);
      const result = await sendDiffCopy(peer.connection(), { fs: diskFileSystem, root: src });
      const { code, stderr } = await peer.exit;
      assert.equal(code, 0, stderr);
      assert.deepEqual(listBytes(dest), tree.listing);
      assert.equal(result.entries, tree.entries);
    });

    it("with `fscache diffcopy send` and `receive` copies their bytes", async () => {
      const src = makeTree(fresh("src"), tree.raw);
      const dest = fresh("dest");
      const [a, b] = memoryPipe();
      const io: CliIO = { stdout: () => {}, stderr: () => {}, stderrIsTTY: false, env: {}, cwd: "/" };
      const global = { root: "", json: false, quiet: false };
      const run = (end: typeof a, positionals: string[]) =>
        createDiffcopyCommand(() => end).run({ positionals, values: {}, io, global });
      const both = Promise.all([run(a, ["send", src]), run(b, ["receive", dest])]);
      if (unreachable) {
        await assert.rejects(both, (err: unknown) => unsupportedName(err) || err instanceof FSCacheError);
        return;
      }
      await both;
      assert.deepEqual(listBytes(dest), tree.listing);
      assert.equal(await checksumOf(dest), await checksumOf(src));
    });
  });
}
