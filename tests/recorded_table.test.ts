/**
 * The columnar recorded tree must answer exactly as the trie does: same stored bytes,
 * same entries after the same changes, same root checksum and content size, and the
 * same rejections of damaged bytes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RecordedTable } from "../core/recorded_table.ts";
import { decodeRecordedTable, encodeRecordedTable } from "../core/recorded_table_codec.ts";
import { SnapshotTree } from "../core/snapshot_tree.ts";
import type { ChangeKind, EntryStat } from "../core/types.ts";
import { deserializeHashTree, FSCacheError, HashTree, nodeSha256, serializeHashTree } from "../mod.ts";

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
        stats: new Float64Array(paths.length * 5).fill(Number.NaN),
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
