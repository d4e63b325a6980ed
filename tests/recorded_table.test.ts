/**
 * The columnar recorded tree must answer exactly as the trie does: same stored bytes,
 * same entries after the same changes, same root checksum and content size, and the
 * same rejections of damaged bytes. Every stored version is read: 3 as written now,
 * 2 and 1 from fixtures their encoders wrote and from the test's own version-2 writer.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import { crc32 } from "../core/byte_io.ts";
import { RecordedTable, TABLE_STAT_FIELDS } from "../core/recorded_table.ts";
import { decodeRecordedTable, encodeRecordedTable } from "../core/recorded_table_codec.ts";
import { SnapshotTree } from "../core/snapshot_tree.ts";
import type { ChangeKind, EntryStat } from "../core/types.ts";
import { deserializeHashTree, FSCacheError, HashTree, nodeSha256, serializeHashTree } from "../mod.ts";
import { projectRoot, seededRandom } from "./_helpers.ts";
import { asVersion1, asVersion3, writeVersion2 } from "./_tree_legacy.ts";

const code = (c: string) => (e: unknown) => e instanceof FSCacheError && e.code === c;
const sum = (s: string) => {
  const h = nodeSha256();
  h.update(s);
  return h.digest();
};

type Change = { kind: ChangeKind; path: string; checksum?: string; stat?: EntryStat };

// Few names, so paths collide, nest and get replaced; some non-ASCII and an escaped byte.
const nameArb = fc.constantFrom("a", "b", "a.b", "a0", "é", "\udcff", "z/", "😀", "x y");
const pathArb = fc
  .array(nameArb, { minLength: 1, maxLength: 3 })
  .map((parts) => parts.join("/").replace(/\/+/g, "/").replace(/\/$/, ""));
const statArb = fc.option(
  fc.record({
    mode: fc.constantFrom(0o100644, 0o40755, 0o120777, 0o100755),
    uid: fc.nat(70000),
    gid: fc.nat(70000),
    size: fc.nat(1 << 20),
    mtimeMs: fc.double({ min: 0, max: 2e12, noNaN: true }),
    linkname: fc.option(fc.constantFrom("", "target", "../x", "\udc80"), { nil: undefined }),
  }),
  { nil: undefined },
);
const changeArb: fc.Arbitrary<Change> = fc.oneof(
  fc.record({ kind: fc.constant<ChangeKind>("add"), path: pathArb, checksum: fc.string().map(sum), stat: statArb }),
  fc.record({ kind: fc.constant<ChangeKind>("modify"), path: pathArb, checksum: fc.string().map(sum), stat: statArb }),
  fc.record({ kind: fc.constant<ChangeKind>("delete"), path: pathArb }),
);

function clean(stat: EntryStat | undefined): EntryStat | undefined {
  if (stat === undefined) return undefined;
  const out = { ...stat };
  if (out.linkname === undefined) delete out.linkname;
  return out;
}

function applyAll(tree: { apply(k: ChangeKind, p: string, c?: string, s?: EntryStat): void }, changes: Change[]) {
  for (const c of changes) tree.apply(c.kind, c.path, c.checksum, clean(c.stat));
}

const view = (entries: Iterable<[string, { checksum: string; stat?: EntryStat }]>) =>
  [...entries].map(([p, e]) => [p, e.checksum, e.stat === undefined ? null : { ...e.stat }]);

describe("RecordedTable against HashTree", () => {
  it("same bytes, entries, changes, root checksum and content size", () => {
    fc.assert(
      fc.property(fc.array(changeArb, { maxLength: 30 }), fc.array(changeArb, { maxLength: 20 }), (first, second) => {
        const trie = new HashTree(nodeSha256);
        applyAll(trie, first);
        const bytes = serializeHashTree(trie);
        const table = decodeRecordedTable(bytes);
        assert.deepEqual(view(table.entries()), view(trie.entries()));
        assert.deepEqual(encodeRecordedTable(table, nodeSha256), bytes);
        assert.deepEqual(encodeRecordedTable(RecordedTable.fromEntries(trie.entries()), nodeSha256), bytes);

        const snapshot = SnapshotTree.decode(bytes, nodeSha256);
        applyAll(trie, second);
        applyAll(snapshot, second);
        assert.deepEqual(view(snapshot.recorded().entries()), view(trie.entries()));
        assert.equal(snapshot.size, trie.size);
        assert.equal(snapshot.hash("."), trie.hash("."));
        assert.equal(snapshot.contentSize(), trie.contentSize());
        assert.deepEqual(snapshot.serialize(), serializeHashTree(trie));
        for (const [path] of trie.entries()) {
          assert.deepEqual(snapshot.recorded().get(path), trie.get(path));
        }
        // Asking for a sub-path builds the trie; it then answers as the trie does.
        for (const [path] of trie.entries()) assert.equal(snapshot.hash(path), trie.hash(path));
        assert.deepEqual(snapshot.serialize(), serializeHashTree(trie));
      }),
      { numRuns: 300 },
    );
  });

  it("a deleted path takes the directories only it implied along (found by the property above)", () => {
    const file = sum("a");
    const trie = new HashTree(nodeSha256);
    trie.apply("add", "a", file);
    const snapshot = SnapshotTree.decode(serializeHashTree(trie), nodeSha256);
    for (const tree of [trie, snapshot]) {
      tree.apply("modify", "a/x y/b", sum("b"));
      tree.apply("delete", "a/x y/b");
    }
    // Nothing is below "a" again: it is the file it was added as, in both.
    assert.equal(trie.kindOf("a"), "unknown");
    assert.equal(trie.hash("a"), `file:${file}`);
    assert.equal(snapshot.hash("a"), `file:${file}`);
    assert.equal(trie.hash("a/x y"), undefined);
    assert.deepEqual(snapshot.serialize(), serializeHashTree(trie));
  });

  it("a fresh snapshot takes any changes as the trie does, appended until the first delete", () => {
    fc.assert(
      fc.property(fc.array(changeArb, { maxLength: 40 }), (changes) => {
        const trie = new HashTree(nodeSha256);
        const snapshot = SnapshotTree.empty(nodeSha256);
        applyAll(trie, changes);
        applyAll(snapshot, changes);
        assert.deepEqual(view(snapshot.recorded().entries()), view(trie.entries()));
        assert.equal(snapshot.hash("."), trie.hash("."));
        assert.equal(snapshot.contentSize(), trie.contentSize());
        assert.deepEqual(snapshot.serialize(), serializeHashTree(trie));
      }),
      { numRuns: 500 },
    );
  });

  it("a fresh snapshot: a path added again keeps the last, a directory deleted and filled again keeps the new entries", () => {
    const snapshot = SnapshotTree.empty(nodeSha256);
    const link = { mode: 0o120777, uid: 0, gid: 0, size: 0, mtimeMs: 1, linkname: "t" };
    snapshot.apply("add", "b/x", sum("bx"));
    snapshot.apply("add", "a", sum("a1"), link);
    snapshot.apply("add", "b", sum("b"));
    snapshot.apply("modify", "a", sum("a2"));
    snapshot.apply("delete", "b");
    snapshot.apply("add", "b", sum("b2"));
    snapshot.apply("add", "b/y", sum("by"));
    assert.deepEqual(view(snapshot.recorded().entries()), [
      ["a", sum("a2"), null],
      ["b", sum("b2"), null],
      ["b/y", sum("by"), null],
    ]);
  });

  it("a fresh snapshot gets 10k changes reported out of walk order", () => {
    const trie = new HashTree(nodeSha256);
    const snapshot = SnapshotTree.empty(nodeSha256);
    const changes: Change[] = [];
    for (let d = 0; d < 10; d++) changes.push({ kind: "add", path: `d${d}`, checksum: sum(`d${d}`) });
    for (let i = 9999; i >= 0; i--) changes.push({ kind: "add", path: `d${i % 10}/f${i}`, checksum: sum(`${i}`) });
    applyAll(trie, changes);
    applyAll(snapshot, changes);
    assert.deepEqual(snapshot.serialize(), serializeHashTree(trie));
    assert.equal(snapshot.hash("."), trie.hash("."));
  });

  it("a decoded tree stored again after a few changes has the bytes of a full encode, round after round", () => {
    // Big enough that unchanged entries come in long runs, which are copied as stored.
    const random = seededRandom(7);
    const trie = new HashTree(nodeSha256);
    const stat = (mode: number, size: number, linkname?: string): EntryStat => ({
      mode,
      uid: 1000,
      gid: 1000,
      size,
      mtimeMs: 1.7e12 + size,
      ...(linkname === undefined ? {} : { linkname }),
    });
    for (let d = 0; d < 20; d++) {
      trie.apply("add", `d${d}`, sum(`d${d}`), stat(0o40755, 0));
      for (let f = 0; f < 50; f++) {
        const path = `d${d}/${f % 7 === 0 ? "\udcff" : f % 11 === 0 ? "é" : ""}f${f}`;
        const link = f % 13 === 0 ? `../t${f}\udc80` : undefined;
        trie.apply("add", path, sum(path), link === undefined ? stat(0o100644, f) : stat(0o120777, 0, link));
      }
    }
    let snapshot = SnapshotTree.decode(serializeHashTree(trie), nodeSha256);
    const paths = [...trie.entries()].map(([p]) => p);
    const pick = () => paths[Math.floor(random() * paths.length)] as string;
    for (let round = 0; round < 4; round++) {
      const changes: Change[] = [
        // The first and the last entry, a whole directory, a directory's first entry, new paths.
        { kind: "modify", path: "d0", checksum: sum(`r${round}`), stat: stat(0o40700, 0) },
        { kind: "modify", path: paths[paths.length - 1] as string, checksum: sum(`l${round}`) },
        { kind: "delete", path: `d${3 + round}` },
        { kind: "add", path: `d${3 + round}`, checksum: sum(`n${round}`), stat: stat(0o100600, 9) },
        { kind: "add", path: `d9/new${round}`, checksum: sum(`a${round}`), stat: stat(0o100644, round) },
        { kind: "add", path: `zz${round}`, checksum: sum(`z${round}`), stat: stat(0o120777, 0, "\udcfe") },
      ];
      for (let k = 0; k < 5; k++) changes.push({ kind: "modify", path: pick(), checksum: sum(`${round}.${k}`) });
      for (let k = 0; k < 3; k++) changes.push({ kind: "delete", path: pick() });
      applyAll(trie, changes);
      applyAll(snapshot, changes);
      const bytes = snapshot.serialize();
      assert.deepEqual(bytes, serializeHashTree(trie), `round ${round}`);
      assert.equal(snapshot.hash("."), trie.hash("."));
      // Every other round goes on from the stored bytes, the others from the tree in memory.
      if (round % 2 === 0) snapshot = SnapshotTree.decode(bytes, nodeSha256);
      assert.deepEqual(view(snapshot.recorded().entries()), view(trie.entries()));
    }
  });

  it("rejects what deserializeHashTree rejects", () => {
    const trie = new HashTree(nodeSha256);
    for (const p of ["a", "a/b", "a/b/c", "a.txt", "é"]) trie.apply("add", p, sum(p));
    const bytes = serializeHashTree(trie);
    for (let n = 0; n < bytes.length; n++) {
      assert.throws(() => decodeRecordedTable(bytes.subarray(0, n)), code("ERR_CORRUPT"));
    }
    const flipped = bytes.slice();
    flipped[10] = (flipped[10] as number) ^ 1;
    assert.throws(() => decodeRecordedTable(flipped), code("ERR_CORRUPT"));
    assert.throws(() => deserializeHashTree(flipped, nodeSha256), code("ERR_CORRUPT"));
  });

  it("rejects paths out of walk order or not clean, even with a valid CRC", () => {
    const table = (paths: string[]) =>
      new RecordedTable({
        paths,
        sums: new Uint8Array(paths.length * 32),
        stats: new Float64Array(paths.length * TABLE_STAT_FIELDS).fill(Number.NaN),
        links: new Map(),
      });
    for (const paths of [["b", "a"], ["a", "a"], ["a.b", "a/b"], ["a/../b"], ["a//b"], ["./a"]]) {
      const bytes = encodeRecordedTable(table(paths), nodeSha256);
      assert.throws(() => decodeRecordedTable(bytes), code("ERR_CORRUPT"), JSON.stringify(paths));
      assert.throws(() => deserializeHashTree(bytes, nodeSha256), code("ERR_CORRUPT"), JSON.stringify(paths));
    }
    assert.deepEqual(decodeRecordedTable(encodeRecordedTable(table(["a", "a/b", "a.b", "a0"]), nodeSha256)).paths, [
      "a",
      "a/b",
      "a.b",
      "a0",
    ]);
  });
});

/** A sha256 factory that counts the hashes made with it. */
function countingSha256(): { sha256: typeof nodeSha256; count: () => number } {
  let made = 0;
  return {
    sha256: () => {
      made++;
      return nodeSha256();
    },
    count: () => made,
  };
}

/** The tree of `tests/fixtures/hash_tree_v1.bin` to `hash_tree_v3.bin`, written by those versions' encoders. */
function fixtureTree(): HashTree {
  const tree = new HashTree(nodeSha256);
  tree.apply("add", "a", sum("a"), { mode: 0o40755, uid: 1000, gid: 1000, size: 0, mtimeMs: 1.5e12 + 0.25 });
  tree.apply("add", "a/b", sum("a/b"), { mode: 0o100644, uid: 0, gid: 0, size: 2 ** 40, mtimeMs: 0 });
  tree.apply("add", "a/l", sum("a/l"), { mode: 0o120777, uid: 0, gid: 0, size: 0, mtimeMs: 1, linkname: "b\udcff" });
  tree.apply("add", "a.b", sum("a.b"));
  tree.apply("add", "a0", sum("a0"), { mode: 0o100755, uid: 70000, gid: 5, size: 300, mtimeMs: 1.7e12 + 0.123 });
  tree.apply("add", "x\udcfe", sum("x\udcfe"));
  tree.apply("add", "é", sum("é"), { mode: 0o40700, uid: 1, gid: 1, size: 4096, mtimeMs: 2 });
  tree.apply("add", "é/😀", sum("é/😀"), { mode: 0o100600, uid: 1, gid: 1, size: 7, mtimeMs: 3.5 });
  tree.apply("add", "z z", sum("z z"), { mode: 0o100644, uid: 0, gid: 0, size: 128, mtimeMs: 4 });
  return tree;
}

describe("stored names", () => {
  it("keep a leading U+FEFF and escaped bytes, also when only some names are not UTF-8", () => {
    const table = (paths: string[]) =>
      RecordedTable.fromEntries(paths.map((p) => [p, { checksum: sum(p) }] as [string, { checksum: string }]));
    for (const paths of [
      ["\ufeffa"],
      ["b", "\ufeffa"],
      ["b\udcff", "c", "\ufeffa"],
      ["a", "a/\ufeff", "a/\ufeff/x\udc80y"],
    ]) {
      assert.deepEqual(decodeRecordedTable(encodeRecordedTable(table(paths), nodeSha256)).paths, paths);
    }
  });
});

describe("stored format versions", () => {
  it("writes version 4 with the root digest and content size, from the trie and the table alike", () => {
    const trie = fixtureTree();
    const bytes = serializeHashTree(trie);
    assert.equal(bytes[4], 4);
    const root = trie.hash(".") as string;
    assert.equal(
      Array.from(bytes.subarray(5, 37), (b) => b.toString(16).padStart(2, "0")).join(""),
      root.slice("dir:".length),
    );
    const header = new DataView(bytes.buffer, bytes.byteOffset);
    assert.equal(header.getUint32(37, true), trie.size);
    // The fixture has entries without a stat: its size is not exact, stored as -1.
    assert.equal(trie.contentSize(), undefined);
    assert.equal(header.getFloat64(41, true), -1);
    const table = RecordedTable.fromEntries(trie.entries());
    assert.deepEqual(encodeRecordedTable(table, nodeSha256), bytes);
    assert.equal(`dir:${decodeRecordedTable(bytes).digest(nodeSha256)}`, root);
  });

  it("reads versions 1 to 3 as written before (committed fixtures), and stores them again as version 4", () => {
    const [v1, v2, v3] = [1, 2, 3].map(
      (v) => new Uint8Array(readFileSync(`${projectRoot()}/tests/fixtures/hash_tree_v${v}.bin`)),
    ) as [Uint8Array, Uint8Array, Uint8Array];
    assert.deepEqual([v1[4], v2[4], v3[4]], [1, 2, 3]);
    const trie = fixtureTree();
    // The test's writers give the fixtures' very bytes.
    assert.deepEqual(writeVersion2(trie), v2);
    assert.deepEqual(asVersion1(v2), v1);
    assert.deepEqual(asVersion3(serializeHashTree(trie)), v3);
    for (const [fixture, digests] of [
      [v1, 1],
      [v2, 0],
      [v3, 0],
    ] as const) {
      assert.deepEqual(view(decodeRecordedTable(fixture).entries()), view(trie.entries()));
      assert.deepEqual(view(deserializeHashTree(fixture, nodeSha256).entries()), view(trie.entries()));
      const counting = countingSha256();
      const snapshot = SnapshotTree.decode(fixture, counting.sha256);
      assert.equal(snapshot.hash("."), trie.hash("."));
      assert.equal(counting.count(), digests, "computed once when not stored");
      assert.equal(snapshot.hash("."), trie.hash("."));
      assert.equal(counting.count(), digests);
      assert.deepEqual(snapshot.serialize(), serializeHashTree(trie));
      for (let n = 0; n < fixture.length; n++) {
        assert.throws(() => decodeRecordedTable(fixture.subarray(0, n)), code("ERR_CORRUPT"));
      }
      for (let i = 0; i < fixture.length; i++) {
        const bad = fixture.slice();
        bad[i] = (bad[i] as number) ^ 0x10;
        assert.throws(() => decodeRecordedTable(bad), code("ERR_CORRUPT"), `byte ${i}`);
        assert.throws(() => deserializeHashTree(bad, nodeSha256), code("ERR_CORRUPT"), `byte ${i}`);
      }
    }
  });

  it("every version decodes to the same entries, root checksum and content size", () => {
    fc.assert(
      fc.property(fc.array(changeArb, { maxLength: 30 }), (changes) => {
        const trie = new HashTree(nodeSha256);
        applyAll(trie, changes);
        const v4 = serializeHashTree(trie);
        const v2 = writeVersion2(trie);
        for (const bytes of [asVersion1(v2), v2, asVersion3(v4), v4]) {
          assert.deepEqual(view(decodeRecordedTable(bytes).entries()), view(trie.entries()));
          assert.equal(SnapshotTree.decode(bytes, nodeSha256).hash("."), trie.hash("."));
          assert.equal(SnapshotTree.decode(bytes, nodeSha256).contentSize(), trie.contentSize());
          assert.equal(deserializeHashTree(bytes, nodeSha256).hash("."), trie.hash("."));
          assert.deepEqual(SnapshotTree.decode(bytes, nodeSha256).serialize(), v4);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("a decoded snapshot answers the root checksum from the stored digest until it changes", () => {
    const trie = fixtureTree();
    const counting = countingSha256();
    const snapshot = SnapshotTree.decode(serializeHashTree(trie), counting.sha256);
    assert.equal(snapshot.hash("."), trie.hash("."));
    assert.equal(snapshot.contentSize(), trie.contentSize());
    assert.equal(counting.count(), 0, "no hash made: the stored digest answered");
    // Stored again unchanged: the same bytes, still without hashing.
    assert.deepEqual(snapshot.serialize(), serializeHashTree(trie));
    assert.equal(counting.count(), 0);
    for (const [kind, path] of [
      ["modify", "a/b"],
      ["delete", "a"],
      ["add", "new"],
    ] as const) {
      snapshot.apply(kind, path, kind === "delete" ? undefined : sum(`${path}2`));
      trie.apply(kind, path, kind === "delete" ? undefined : sum(`${path}2`));
      const before = counting.count();
      assert.equal(snapshot.hash("."), trie.hash("."), `after ${kind} ${path}`);
      assert.equal(counting.count(), before + 1, "recomputed once after a change");
      // Encoding reuses the digest just computed.
      assert.deepEqual(snapshot.serialize(), serializeHashTree(trie));
      assert.equal(counting.count(), before + 1);
    }
  });

  it("takes the stored digest as is: the CRC, not a recomputation, guards it", () => {
    const trie = fixtureTree();
    const bytes = serializeHashTree(trie);
    const forged = bytes.slice();
    forged.fill(0xab, 5, 37);
    new DataView(forged.buffer).setUint32(forged.length - 4, crc32(forged.subarray(0, forged.length - 4)));
    assert.equal(SnapshotTree.decode(forged, nodeSha256).hash("."), `dir:${"ab".repeat(32)}`);
    // The trie decoder computes its own.
    assert.equal(deserializeHashTree(forged, nodeSha256).hash("."), trie.hash("."));
    // Damage to the digest itself is caught by the CRC.
    const damaged = bytes.slice();
    damaged[20] = (damaged[20] as number) ^ 1;
    assert.throws(() => decodeRecordedTable(damaged), code("ERR_CORRUPT"));
  });

  it("version 2: rejects bad numbers and names with ERR_CORRUPT even under a valid CRC", () => {
    const reseal = (body: number[]) => {
      const out = new Uint8Array(body.length + 4);
      out.set(body);
      new DataView(out.buffer).setUint32(body.length, crc32(out.subarray(0, body.length)));
      return out;
    };
    const head = [0x46, 0x53, 0x48, 0x54, 2, ...new Array(32).fill(0)];
    const entry = (shared: number[], suffix: number[], name: number[], tail: number[]) => [
      ...shared,
      ...suffix,
      ...name,
      ...new Array(32).fill(7),
      ...tail,
    ];
    const cases: [string, number[]][] = [
      ["count beyond the bytes", [...head, 5, ...entry([0], [1], [0x61], [0])]],
      ["varint running off the end", [...head, 1, 0x80]],
      [
        "number too large",
        [...head, 1, ...entry([0], [1], [0x61], [1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])],
      ],
      ["stat cut short", [...head, 1, ...entry([0], [1], [0x61], [1, 1, 1, 1, 1, 0, 0])]],
      [
        "link length past the end",
        [...head, 1, ...entry([0], [1], [0x61], [3, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 9])],
      ],
      ["prefix longer than the previous name", [...head, 1, ...entry([1], [1], [0x61], [0])]],
      ["NUL in a name", [...head, 1, ...entry([0], [2], [0x61, 0], [0])]],
      ["empty name", [...head, 1, ...entry([0], [0], [], [0])]],
      ["trailing bytes", [...head, 1, ...entry([0], [1], [0x61], [0]), 0]],
    ];
    for (const [why, body] of cases) {
      assert.throws(() => decodeRecordedTable(reseal(body)), code("ERR_CORRUPT"), why);
      assert.throws(() => deserializeHashTree(reseal(body), nodeSha256), code("ERR_CORRUPT"), why);
    }
    // The same shapes, well-formed, decode.
    const good = decodeRecordedTable(
      reseal([...head, 1, ...entry([0], [1], [0x61], [1, 0x80, 0x01, 1, 1, 1, ...new Array(8).fill(0)])]),
    );
    assert.deepEqual(good.paths, ["a"]);
    assert.equal(good.stat(0)?.mode, 128);
  });
});
