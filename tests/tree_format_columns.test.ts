/**
 * The stored hash tree's column formats, version 4 and the version 3 before it (no
 * listing keys): what they take as stored, what they check even under a valid CRC,
 * and the content size they carry from one sync to the next.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { crc32 } from "../core/byte_io.ts";
import { RecordedTable, TABLE_STAT_FIELDS } from "../core/recorded_table.ts";
import { decodeRecordedTable, encodeRecordedTable } from "../core/recorded_table_codec.ts";
import { SnapshotTree } from "../core/snapshot_tree.ts";
import type { ChangeKind, EntryStat } from "../core/types.ts";
import { deserializeHashTree, FSCacheError, HashTree, nodeSha256, serializeHashTree } from "../mod.ts";
import { asVersion3 } from "./_tree_legacy.ts";

const code = (c: string) => (e: unknown) => e instanceof FSCacheError && e.code === c;
const sum = (s: string) => {
  const h = nodeSha256();
  h.update(s);
  return h.digest();
};
const file = (size: number): EntryStat => ({ mode: 0o100644, uid: 1, gid: 1, size, mtimeMs: 1.7e12 + size });
const dir: EntryStat = { mode: 0o40755, uid: 1, gid: 1, size: 4096, mtimeMs: 1.7e12 };
const link = (target: string): EntryStat => ({ mode: 0o120777, uid: 1, gid: 1, size: 0, mtimeMs: 1, linkname: target });

/** Stored bytes of a table of `paths` (no stats), whatever the paths: the encoder does not check them. */
function stored(paths: string[], links: [number, string][] = []): Uint8Array {
  return encodeRecordedTable(
    new RecordedTable({
      paths,
      sums: new Uint8Array(paths.length * 32),
      stats: new Float64Array(paths.length * TABLE_STAT_FIELDS).fill(Number.NaN),
      links: new Map(links),
    }),
    nodeSha256,
  );
}

/** `bytes` with `edit` applied before the CRC, then sealed again with a valid CRC. */
function resealed(bytes: Uint8Array, edit: (body: Uint8Array, view: DataView) => Uint8Array | undefined): Uint8Array {
  const body = bytes.slice(0, bytes.length - 4);
  const changed = edit(body, new DataView(body.buffer)) ?? body;
  const out = new Uint8Array(changed.length + 4);
  out.set(changed);
  new DataView(out.buffer).setUint32(changed.length, crc32(changed));
  return out;
}

/** Rejected as version 4 and as version 3 alike. */
const rejects = (bytes: Uint8Array, why: string) => {
  for (const form of [bytes, asVersion3(bytes)]) {
    assert.throws(() => decodeRecordedTable(form), code("ERR_CORRUPT"), `${why} (version ${form[4]})`);
    assert.throws(() => deserializeHashTree(form, nodeSha256), code("ERR_CORRUPT"), `${why} (version ${form[4]})`);
  }
};

describe("stored hash tree, versions 3 and 4", () => {
  it("rejects paths out of walk order or not clean, whatever characters they hold", () => {
    for (const paths of [
      ["b", "a"],
      ["a", "a"],
      ["a-b", "a/b"],
      ["a.b", "a/b"],
      ["a\x01", "a/b"],
      ["b\udcff", "a"],
      ["\u{1F600}b", "\u{1F600}a"],
      // In UTF-16 the emoji (a surrogate pair) comes first; its bytes come after U+FFFF's.
      ["\u{1F600}", "\uffff"],
      ["a", ""],
      [""],
      ["/a"],
      ["a/"],
      ["a//b"],
      ["a/./b"],
      ["a/.."],
      [".."],
      ["x\udc80", "x\udc80/../y"],
    ]) {
      rejects(stored(paths), JSON.stringify(paths));
    }
    // The same characters in walk order decode.
    for (const paths of [
      ["a", "a/b", "a-b", "a.b", "a0"],
      ["a", "a/b", "a\x01", "b"],
      ["\uffff", "\u{1F600}"],
      ["a", "a/\udcff", "b\udcff"],
      ["...", ".a", "a/...b", "a.."],
    ]) {
      assert.deepEqual(decodeRecordedTable(stored(paths)).paths, paths, JSON.stringify(paths));
      assert.deepEqual(decodeRecordedTable(asVersion3(stored(paths))).paths, paths, JSON.stringify(paths));
    }
  });

  it("rejects sections that do not add up, under a valid CRC", () => {
    const bytes = stored(["a", "a/l", "b"], [[1, "t"]]);
    assert.deepEqual(decodeRecordedTable(bytes).links, new Map([[1, "t"]]));
    const cases: [string, (body: Uint8Array, view: DataView) => Uint8Array | undefined][] = [
      ["count beyond the bytes", (_, v) => void v.setUint32(37, 4, true)],
      ["count short of the names", (_, v) => void v.setUint32(37, 2, true)],
      ["names longer than the bytes", (_, v) => void v.setUint32(49, 1000, true)],
      ["names longer than any string", (_, v) => void v.setUint32(49, 2 ** 30, true)],
      ["a NUL that makes another name", (b) => void b.set([0], b.length - 1 - 13)],
      ["more links than entries", (_, v) => void v.setUint32(53, 4, true)],
      ["a link past the last entry", (b, v) => void v.setUint32(b.length - 9, 3, true)],
      ["a link length past the end", (b, v) => void v.setUint32(b.length - 5, 2, true)],
      ["a trailing byte", (b) => Uint8Array.from([...b, 0])],
      ["a negative content size", (_, v) => void v.setFloat64(41, -2, true)],
      ["a fractional content size", (_, v) => void v.setFloat64(41, 1.5, true)],
      ["a content size that is not a number", (_, v) => void v.setFloat64(41, Number.NaN, true)],
    ];
    for (const [why, edit] of cases) {
      rejects(resealed(bytes, edit), why);
      // The version 3 form of the same edit (its header and tail are laid out alike).
      const v3 = resealed(asVersion3(bytes), edit);
      assert.throws(() => decodeRecordedTable(v3), code("ERR_CORRUPT"), `${why} (version 3)`);
    }
    // Links must come by index, each once.
    const two = stored(
      ["a", "b"],
      [
        [0, "x"],
        [1, "y"],
      ],
    );
    rejects(
      resealed(two, (b, v) => void v.setUint32(b.length - 9, 0, true)),
      "the same link index twice",
    );
  });

  it("takes stats and checksums as stored, content size included", () => {
    const trie = new HashTree(nodeSha256);
    trie.apply("add", "d", sum("d"), dir);
    trie.apply("add", "d/f", sum("d/f"), file(300));
    trie.apply("add", "d/l", sum("d/l"), link("f\udcff"));
    const bytes = serializeHashTree(trie);
    assert.equal(new DataView(bytes.buffer, bytes.byteOffset).getFloat64(41, true), 302);
    const forged = resealed(bytes, (_, v) => void v.setFloat64(41, 7, true));
    assert.equal(SnapshotTree.decode(forged, nodeSha256).contentSize(), 7);
    assert.equal(decodeRecordedTable(bytes).stat(2)?.linkname, "f\udcff");
  });

  it("stores each directory's listing key (version 4); version 3 has none to give", () => {
    const trie = new HashTree(nodeSha256);
    trie.apply("add", "d", sum("d"), { ...dir, listingKey: 2 ** 52 + 7 });
    trie.apply("add", "d/e", sum("d/e"), dir);
    trie.apply("add", "d/f", sum("d/f"), file(3));
    const bytes = serializeHashTree(trie);
    const table = decodeRecordedTable(bytes);
    assert.deepEqual(
      [0, 1, 2].map((i) => table.stat(i)?.listingKey),
      [2 ** 52 + 7, undefined, undefined],
    );
    assert.deepEqual(view(table), view(RecordedTable.from(trie)));
    const old = decodeRecordedTable(asVersion3(bytes));
    assert.deepEqual(
      [0, 1, 2].map((i) => old.stat(i)),
      [dir, dir, file(3)],
    );
    // Read from version 3, written again as version 4: the keys stay absent.
    assert.equal(decodeRecordedTable(encodeRecordedTable(old, nodeSha256)).stat(0)?.listingKey, undefined);
  });

  it("carries an exact content size through changes as a full count would give it", () => {
    // Every entry with a stat, so the stored size is exact and changes fold into it; some
    // changes still make it inexact (a hard link, an entry under a path that is no directory).
    const name = fc.constantFrom("a", "b", "a.b", "é", "\udcff", "c c");
    const path = fc.oneof(
      name,
      fc.tuple(fc.constantFrom("d0", "d1", "d2"), name).map(([d, n]) => `${d}/${n}`),
      fc.array(name, { minLength: 2, maxLength: 3 }).map((parts) => parts.join("/")),
    );
    const stat = fc.oneof(
      { weight: 4, arbitrary: fc.nat(5000).map(file) },
      { weight: 2, arbitrary: fc.constant(dir) },
      { weight: 2, arbitrary: fc.constantFrom("", "x", "../é\udc80").map(link) },
      { weight: 1, arbitrary: fc.constant({ ...file(9), linkname: "a" }) },
    );
    const change = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom<ChangeKind>("add", "modify"), path, stat }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant<ChangeKind>("delete"), path }) },
    );
    let exactRounds = 0;
    fc.assert(
      fc.property(fc.array(fc.nat(30), { maxLength: 12 }), fc.array(change, { maxLength: 12 }), (sizes, changes) => {
        const trie = new HashTree(nodeSha256);
        sizes.forEach((size, i) => {
          trie.apply("add", `d${i % 3}`, sum(`d${i % 3}`), dir);
          trie.apply("add", `d${i % 3}/f${i}`, sum(`${i}`), file(size));
        });
        let snapshot = SnapshotTree.decode(serializeHashTree(trie), nodeSha256);
        for (const [round, c] of changes.entries()) {
          const checksum = sum(`${round}`);
          trie.apply(c.kind, c.path, c.kind === "delete" ? undefined : checksum, "stat" in c ? c.stat : undefined);
          snapshot.apply(c.kind, c.path, c.kind === "delete" ? undefined : checksum, "stat" in c ? c.stat : undefined);
          assert.equal(snapshot.contentSize(), trie.contentSize(), `after ${JSON.stringify(c)}`);
          if (trie.contentSize() !== undefined) exactRounds++;
          // Every other round goes on from the stored bytes (their size as stored).
          if (round % 2 === 1) snapshot = SnapshotTree.decode(snapshot.serialize(), nodeSha256);
        }
      }),
      { numRuns: 500 },
    );
    assert.ok(exactRounds > 300, `only ${exactRounds} rounds ended exact`);
  });
});

/** A table's entries as plain data, to compare. */
function view(table: RecordedTable): unknown[] {
  return [...table.entries()];
}
