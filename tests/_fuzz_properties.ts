/**
 * Every fuzz property, in one place: `tests/fuzz.test.ts` runs them at a size for each
 * test run, `npm run fuzz` (tests/fuzz/fuzz.ts) at full size. Hostile input — random and
 * mutated tar archives, diff-copy streams, packets, serialized hash trees, keys, paths
 * and CLI arguments — must end in a result or an `FSCacheError` with a code: no other
 * exception, no hang, nothing written outside the destination, the cache still usable.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { Volume } from "memfs";
import { crc32 } from "../core/byte_io.ts";
import { FSCacheError } from "../core/errors.ts";
import { fileSystemFrom } from "../core/file_system.ts";
import { HashTree } from "../core/hash_tree.ts";
import { deserializeHashTree, serializeHashTree } from "../core/hash_tree_codec.ts";
import { hasLoneSurrogate } from "../core/names.ts";
import { decodeRecordedTable } from "../core/recorded_table_codec.ts";
import { SnapshotTree } from "../core/snapshot_tree.ts";
import { FSCache, MemoryBackend, MemoryMetaStore, MemoryTransport, nodeSha256 } from "../mod.ts";
import { decodePacket, type Packet, PacketType, packet, stat } from "../transports/diffcopy/packet.ts";
import { encodePacket } from "../transports/diffcopy/packet_encoder.ts";
import { encodeFrame } from "../transports/diffcopy/packet_writer.ts";
import { importTar } from "../transports/tar/tar_import.ts";
import { cli } from "./_cli.ts";
import { disk, recordingUpdater, tempDir } from "./_diffcopy.ts";
import { DATA, DIR, END, FILE, FIN, runHostile, S, SYMLINK, snapshotOutside } from "./_hostile.ts";
import { type RawTarEntry, tarArchive } from "./_tar_writer.ts";

/** One property: `run(numRuns)` throws when a case fails. `weight` scales its share of the runs. */
export interface FuzzProperty {
  name: string;
  weight: number;
  run(numRuns: number, seed?: number): Promise<void>;
}

const TIMEOUT_MS = 5000;

/** Rejects when `promise` takes longer than {@linkcode TIMEOUT_MS}: a hang is a failure. */
async function noHang<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} hung`)), TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Only an `FSCacheError` with a code is an acceptable failure. */
function assertClear(err: unknown): void {
  if (err instanceof FSCacheError && typeof err.code === "string" && err.code !== "") return;
  throw err;
}

function memoryDisk() {
  const fs = fileSystemFrom(new Volume());
  fs.mkdirSync("/r/dest", { recursive: true });
  fs.mkdirSync("/r/outside", { recursive: true });
  fs.writeFileSync("/r/outside/secret", "keep me");
  fs.symlinkSync("../outside", "/r/dest/evil");
  return fs;
}

const OUTSIDE_BEFORE = snapshotOutside(memoryDisk(), "/r", "/r/dest");

/** No temporary file or spool left anywhere below `dir`. */
function assertNoTemps(fs: ReturnType<typeof memoryDisk>, dir: string): void {
  fs.chmodSync(dir, 0o755); // an archive may make a directory unreadable (memfs checks even for root)
  for (const name of fs.readdirSync(dir)) {
    assert.ok(!name.startsWith(".fscache-tmp-"), `temporary ${dir}/${name} left behind`);
    const st = fs.lstatSync(`${dir}/${name}`);
    if (st.isDirectory()) assertNoTemps(fs, `${dir}/${name}`);
  }
}

// ---- diff-copy ----

const arbName = fc.constantFrom("a", "b", "evil", "..", ".", "", "x y", "ü", "/", "a/b", "evil/secret");
const arbPath = fc.array(arbName, { minLength: 1, maxLength: 3 }).map((parts) => parts.join("/"));
const arbMode = fc.oneof(
  fc.constantFrom(FILE, DIR, SYMLINK, 0o755, 0x2000000 | 0o644, 0x4000000 | 0o600),
  fc.integer({ min: 0, max: 0xffffffff }),
);
const arbStat = fc.record({
  path: arbPath,
  mode: arbMode,
  size: fc.integer({ min: 0, max: 40 }),
  linkname: fc.constantFrom("", "a", "../outside/secret", "/etc/passwd", "evil", "b"),
  uid: fc.integer({ min: 0, max: 2000 }),
  modTime: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
});
const arbPacket: fc.Arbitrary<Packet> = fc.oneof(
  { weight: 5, arbitrary: arbStat.map((s) => packet(PacketType.STAT, { stat: stat(s) })) },
  { weight: 2, arbitrary: fc.constant(END) },
  { weight: 3, arbitrary: fc.tuple(fc.nat(6), fc.string({ maxLength: 20 })).map(([id, t]) => DATA(id, t)) },
  { weight: 1, arbitrary: fc.constantFrom(FIN, packet(PacketType.REQ, { id: 1 }), packet(PacketType.ERR)) },
);

async function assertReceiverContained(input: (Packet | Uint8Array)[], earlyDirs = false): Promise<void> {
  const fs = memoryDisk();
  const { error } = await noHang(runHostile(fs, "/r/dest", input, { maxFrameBytes: 4096, earlyDirs }), "the receiver");
  if (error !== undefined) assertClear(error);
  assert.deepEqual(snapshotOutside(fs, "/r", "/r/dest"), OUTSIDE_BEFORE);
  assertNoTemps(fs, "/r/dest");
}

/** A valid stream for a small tree: a dir, two files, a symlink, a hard link. */
function validStream(): Uint8Array {
  return concat(
    [
      S("a", { size: 5 }),
      S("d", { mode: DIR }),
      S("d/f", { size: 3 }),
      S("h", { linkname: "a", size: 5 }),
      S("l", { mode: SYMLINK, linkname: "a" }),
      END,
      DATA(0, "hello"),
      DATA(0),
      DATA(2, "abc"),
      DATA(2),
      FIN,
    ].map((p) => encodeFrame(p)),
  );
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, f) => n + f.length, 0));
  let off = 0;
  for (const f of parts) {
    out.set(f, off);
    off += f.length;
  }
  return out;
}

/** Byte flips and a truncation of `valid`. */
const mutations = (valid: Uint8Array) =>
  fc
    .tuple(
      fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.nat(valid.length),
    )
    .map(([flips, cut]) => {
      const bytes = valid.slice(0, Math.max(cut, valid.length - 8));
      for (const [at, value] of flips) if (at < bytes.length) bytes[at] = value;
      return bytes;
    });

// ---- tar ----

const encoder = new TextEncoder();
const LONG = "n".repeat(300);
const arbTarName = fc.oneof(
  fc.constantFrom("a", "b/", "d", "d/f", "./a", "../evil", "/etc/evil", "a//b", "l/evil", ".", "./", "x\ny", LONG),
  fc.array(fc.constantFrom("a", "d", "l", "..", ".", "", "ü"), { minLength: 1, maxLength: 3 }).map((p) => p.join("/")),
);
const arbTarEntry: fc.Arbitrary<RawTarEntry> = fc.record({
  name: arbTarName,
  typeflag: fc.constantFrom("0", "0", "0", "5", "5", "2", "1", "3", "4", "6", "7", "x", "g", "L", "K", "S", "Z", "\0"),
  mode: fc.oneof(fc.constantFrom(0o644, 0o100644, 0o755, 0o40755, 0o120777, 0o4755), fc.nat(0o7777777)),
  linkname: fc.constantFrom("", "a", "d/f", "../outside/secret", "/etc/passwd", "l", "later", LONG.slice(0, 99)),
  content: fc.uint8Array({ maxLength: 700 }),
  // A size field that disagrees with the content, sometimes absurdly (a giant header).
  size: fc.option(fc.constantFrom(0, 1, 511, 513, 2 ** 33 - 1, 8 ** 11 - 1), { freq: 4 }).map((v) => v ?? undefined),
  uid: fc.nat(70000),
});

/** Pax records, as a `x` entry's content: long paths, link paths, sizes. */
const arbPax = fc
  .array(
    fc.tuple(
      fc.constantFrom("path", "linkpath", "size", "uid", "mtime", "SCHILY.xattr.user.a", "junk"),
      fc.constantFrom("a", "../evil", "/abs", "99999999999999999999", "-1", LONG, "d/f"),
    ),
    { maxLength: 3 },
  )
  .map((records) => {
    const text = records
      .map(([k, v]) => {
        const body = ` ${k}=${v}\n`;
        let n = body.length + 1;
        while (`${n}${body}`.length !== n) n = `${n}${body}`.length;
        return `${n}${body}`;
      })
      .join("");
    return { name: "PaxHeader", typeflag: "x", content: encoder.encode(text) } satisfies RawTarEntry;
  });

const arbArchive = fc
  .tuple(
    fc.array(fc.oneof({ weight: 6, arbitrary: arbTarEntry }, { weight: 1, arbitrary: arbPax }), { maxLength: 8 }),
    fc.boolean(),
    fc.option(fc.nat(6000), { freq: 3 }),
  )
  .map(([entries, end, cut]) => {
    const bytes = tarArchive(entries, end);
    return cut === null ? bytes : bytes.subarray(0, cut);
  });

async function assertTarContained(bytes: Uint8Array, chunk: number): Promise<void> {
  const fs = memoryDisk();
  const parts: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += chunk) parts.push(bytes.subarray(o, o + chunk));
  const updater = recordingUpdater();
  try {
    await noHang(
      importTar(parts, { fs, dest: "/r/dest", updater }, { maxBytes: 1 << 20, maxEntries: 50 }),
      "tar import",
    );
    for (const change of updater.changes) {
      if (change.kind !== "delete") assert.ok(fs.existsSync(`/r/dest/${change.path}`) || change.stat?.linkname);
    }
  } catch (err) {
    assertClear(err);
  }
  assert.deepEqual(snapshotOutside(fs, "/r", "/r/dest"), OUTSIDE_BEFORE);
  assertNoTemps(fs, "/r/dest");
}

const validTar = tarArchive([
  { name: "d/", typeflag: "5", mode: 0o40755 },
  { name: "d/f", content: encoder.encode("hello world"), mode: 0o100644 },
  { name: "l", typeflag: "2", linkname: "d/f", mode: 0o120777 },
  { name: "h", typeflag: "1", linkname: "d/f" },
  { name: "big", content: new Uint8Array(1500).fill(7) },
]);

// ---- keys and paths ----

/** Strings with what breaks naive code: NUL, newlines, `..`, slashes, lone surrogates (non-UTF-8 bytes), length. */
const arbHostileString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom("", "\0", "a\0b", "\n", "a\nb", "..", "../..", "/", "//", "./a", "\udc80", "a\ud800b", "\uffff"),
  fc.constantFrom(1023, 1024, 1025, 5000).map((n) => "k".repeat(n)),
  fc.array(fc.constantFrom("a", "..", ".", "", "\0", "\udcff", "é", "\n"), { maxLength: 6 }).map((p) => p.join("/")),
);

async function memoryCache() {
  const cache = await FSCache.open({
    backend: new MemoryBackend(),
    metaStore: new MemoryMetaStore(),
    gcInterval: 0,
    logger: { warn() {} },
  });
  cache.registerTransport("mem", new MemoryTransport({ "a.txt": "a", "d/": { "f.txt": "f" } }));
  return cache;
}

/** The properties, with the share of the runs each gets. */
export const fuzzProperties: FuzzProperty[] = [
  {
    name: "packet decoder: any bytes decode or fail with ERR_PROTOCOL",
    weight: 3,
    async run(numRuns, seed) {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
          try {
            decodePacket(bytes);
          } catch (err) {
            assert.ok(err instanceof FSCacheError && err.code === "ERR_PROTOCOL", String(err));
          }
        }),
        { numRuns, seed },
      );
    },
  },
  {
    name: "packet codec: decode(encode(packet)) is the packet",
    weight: 1,
    async run(numRuns, seed) {
      fc.assert(
        fc.property(arbPacket, fc.nat(), (p, id) => {
          const original = { ...p, id };
          assert.deepEqual(decodePacket(encodePacket(original)), original);
        }),
        { numRuns, seed },
      );
    },
  },
  {
    name: "diff-copy receiver: random packet sequences",
    weight: 2,
    async run(numRuns, seed) {
      await fc.assert(
        fc.asyncProperty(fc.array(arbPacket, { maxLength: 12 }), fc.boolean(), (packets, earlyDirs) =>
          assertReceiverContained(packets, earlyDirs),
        ),
        { numRuns, seed },
      );
    },
  },
  {
    name: "diff-copy receiver: mutated valid streams",
    weight: 2,
    async run(numRuns, seed) {
      const valid = validStream();
      const ok = await runHostile(memoryDisk(), "/r/dest", [valid]);
      assert.equal(ok.error, undefined, "the unmutated stream is accepted");
      await fc.assert(
        fc.asyncProperty(mutations(valid), fc.boolean(), (bytes, earlyDirs) =>
          assertReceiverContained([bytes], earlyDirs),
        ),
        { numRuns, seed },
      );
    },
  },
  {
    name: "tar import: random hostile archives (traversal, links, devices, pax, giant sizes, truncation)",
    weight: 3,
    async run(numRuns, seed) {
      await fc.assert(
        fc.asyncProperty(arbArchive, fc.constantFrom(512, 1000, 1 << 16), (bytes, chunk) =>
          assertTarContained(bytes, chunk),
        ),
        { numRuns, seed },
      );
    },
  },
  {
    name: "tar import: mutated valid archives",
    weight: 2,
    async run(numRuns, seed) {
      await assertTarContained(validTar, 1 << 16);
      await fc.assert(
        fc.asyncProperty(mutations(validTar), fc.constantFrom(100, 512, 1 << 16), (bytes, chunk) =>
          assertTarContained(bytes, chunk),
        ),
        { numRuns, seed },
      );
    },
  },
  {
    name: "hash tree codecs (trie and columns): any bytes restore or fail with ERR_CORRUPT; trees round-trip",
    weight: 2,
    async run(numRuns, seed) {
      const arbTree = fc
        .uniqueArray(fc.constantFrom("a", "b", "a/x", "a/y", "b/c", "é", "\udc80", "z z"), { maxLength: 8 })
        .map((paths) => {
          const tree = new HashTree(nodeSha256);
          for (const path of paths.sort()) {
            const parent = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : undefined;
            if (parent !== undefined && !tree.get(parent)) tree.apply("add", parent, "0".repeat(64));
            tree.apply("add", path, path.length.toString(16).padStart(64, "0"), {
              mode: 0o100644,
              uid: 1,
              gid: 2,
              size: path.length,
              mtimeMs: 1.5,
            });
          }
          return tree;
        });
      fc.assert(
        fc.property(arbTree, fc.uint8Array({ maxLength: 80 }), fc.nat(), (tree, junk, at) => {
          const bytes = serializeHashTree(tree);
          assert.equal(deserializeHashTree(bytes, nodeSha256).hash(".", "dir"), tree.hash(".", "dir"));
          assert.equal(SnapshotTree.decode(bytes, nodeSha256).hash(".", "dir"), tree.hash(".", "dir"));
          const damaged = bytes.slice();
          const i = at % damaged.length;
          damaged[i] = (damaged[i] as number) ^ (1 + (at % 255));
          // Junk behind a valid header and CRC reaches the entry decoders themselves.
          const sealed = new Uint8Array(5 + 32 + junk.length + 4);
          sealed.set(bytes.subarray(0, 5 + 32));
          sealed.set(junk, 5 + 32);
          new DataView(sealed.buffer).setUint32(sealed.length - 4, crc32(sealed.subarray(0, sealed.length - 4)));
          for (const input of [junk, damaged, bytes.subarray(0, at % bytes.length), sealed]) {
            for (const decode of [
              () => deserializeHashTree(input, nodeSha256),
              () => decodeRecordedTable(input),
              () => SnapshotTree.decode(input, nodeSha256).hash("."),
            ]) {
              try {
                decode();
              } catch (err) {
                assert.ok(err instanceof FSCacheError && err.code === "ERR_CORRUPT", String(err));
              }
            }
          }
        }),
        { numRuns, seed },
      );
    },
  },
  {
    name: "cache keys and Source.hash paths: NUL, newlines, .., long, non-UTF-8",
    weight: 2,
    async run(numRuns, seed) {
      const cache = await memoryCache();
      try {
        await fc.assert(
          fc.asyncProperty(arbHostileString, arbHostileString, arbHostileString, async (key, shared, path) => {
            const valid = key !== "" && key.length <= 1024 && !key.includes("\0") && !hasLoneSurrogate(key);
            const sharedValid = shared.length <= 1024 && !shared.includes("\0") && !hasLoneSurrogate(shared);
            let source: Awaited<ReturnType<FSCache["syncFrom"]>>;
            try {
              source = await noHang(cache.syncFrom({ key, sharedKey: shared, transport: "mem" }), "syncFrom");
            } catch (err) {
              assert.ok(err instanceof FSCacheError && err.code === "ERR_INVALID_KEY", String(err));
              assert.ok(!valid || !sharedValid, `valid key refused: ${JSON.stringify(key)}`);
              return;
            }
            assert.ok(valid && sharedValid, `invalid key accepted: ${JSON.stringify(key)}`);
            try {
              assert.equal(source.key, key);
              const got = await cache.get(key);
              assert.ok(got, "the key is found again");
              await got.close();
              try {
                assert.match(await source.hash(path), /^(file|dir):[0-9a-f]{64}$/);
              } catch (err) {
                assert.ok(
                  err instanceof FSCacheError && ["ENOENT", "ERR_INVALID_PATH"].includes(err.code),
                  String(err),
                );
              }
            } finally {
              await source.close();
            }
          }),
          { numRuns, seed },
        );
        assert.ok(
          (await cache.sources()).every((s) => s.refs === 0),
          "no reference leaked",
        );
      } finally {
        await cache.close();
      }
    },
  },
  {
    name: "CLI arguments: hostile keys, shared keys and paths for sync, hash and ls; keys survive on disk",
    weight: 0.3,
    async run(numRuns, seed) {
      using tmp = tempDir();
      disk.mkdirSync(`${tmp.dir}/src/d`, { recursive: true });
      disk.writeFileSync(`${tmp.dir}/src/a.txt`, "a");
      const root = ["--root", `${tmp.dir}/cache`];
      // argv cannot hold NUL; the rest of the hostile strings can reach the CLI.
      const arg = arbHostileString.filter((s) => !s.includes("\0"));
      await fc.assert(
        fc.asyncProperty(arg, arg, arg, async (key, shared, path) => {
          const sync = await cli(["sync", `${tmp.dir}/src`, "--key", key, "--shared-key", shared, "--json", ...root]);
          assert.ok([0, 1, 2].includes(sync.code), `exit ${sync.code}`);
          assert.doesNotMatch(sync.stderr, /ERR_UNEXPECTED/);
          if (sync.code !== 0) {
            assert.match(sync.stderr, /ERR_[A-Z_]+|Usage|option/);
            return;
          }
          assert.equal(JSON.parse(sync.stdout).key, key);
          // Read back by a fresh open of the cache from disk: the key came back exactly.
          // (Only right after the sync: a later sync with the same shared key takes it over.)
          const ls = await cli(["ls", "--json", ...root]);
          assert.equal(ls.code, 0, ls.stderr);
          const listed = (JSON.parse(ls.stdout) as { key: string }[]).map((s) => s.key);
          assert.ok(listed.includes(key), `key ${JSON.stringify(key)} lost on disk`);
          const hash = await cli(["hash", key, path, "--json", ...root]);
          assert.ok([0, 1, 2].includes(hash.code), `exit ${hash.code}`);
          assert.doesNotMatch(hash.stderr, /ERR_UNEXPECTED/);
          if (hash.code === 0) assert.match(JSON.parse(hash.stdout).checksum, /^(file|dir):[0-9a-f]{64}$/);
        }),
        { numRuns, seed },
      );
    },
  },
];
