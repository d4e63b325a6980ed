/**
 * The root digest's input kept between syncs: a resync's input, made from the last one
 * with the changed checksums taken out and put in, must be exactly the input made anew;
 * a stored input is used only when it is intact and made for the tree it is offered to.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeDigestInput, encodeDigestInput } from "../core/digest_input.ts";
import { spliceDigestInput } from "../core/digest_input_splice.ts";
import { RecordedTable, type TableChange } from "../core/recorded_table.ts";
import { digestInput } from "../core/root_digest.ts";
import {
  FSCache,
  HashTree,
  inlineScanner,
  MemoryBackend,
  MemoryMetaStore,
  MemoryTransport,
  type MetaStore,
  nodeSha256,
  type SourceRecord,
  type TreeSpec,
} from "../mod.ts";
import { recordingLogger } from "./_helpers.ts";

const hexOf = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const sha256Hex = (data: Uint8Array | string) => {
  const hash = nodeSha256();
  hash.update(data);
  return hash.digest();
};
/** The input as SPEC §4.2 defines the root digest over it: hex sorted, comma-joined. */
const naiveInput = (hexes: string[]) => new TextEncoder().encode([...hexes].sort().join(","));

/** `n` checksums from `seed`; with `ties`, every fifth repeats the first (equal checksums occur: hard links' content). */
function sumsOf(n: number, seed: number, ties: boolean): Uint8Array {
  const sums = Uint8Array.from({ length: n * 32 }, (_, i) => (Math.imul(seed ^ (i * 7919), 2654435761) >>> 11) & 255);
  for (let i = 5; ties && i < n; i += 5) sums.copyWithin(i * 32, 0, 32);
  return sums;
}

const path = (i: number) => `f${String(i).padStart(5, "0")}`;

function tableOf(sums: Uint8Array): RecordedTable {
  const n = sums.length / 32;
  return RecordedTable.fromEntries(
    Array.from({ length: n }, (_, i) => [path(i), { checksum: hexOf(sums.subarray(i * 32, i * 32 + 32)) }]),
  );
}

describe("the root digest's input", () => {
  it("made from the last input with the changed checksums swapped is exactly the input made anew", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 400 }),
        fc.integer({ min: 0, max: 400 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer(),
        fc.boolean(),
        (n, removeFrom, count, seed, ties) => {
          const sums = sumsOf(n, seed, ties);
          const from = Math.min(removeFrom, n);
          const k = Math.min(count, n - from);
          const removed = sums.slice(from * 32, (from + k) * 32);
          // New checksums, some equal to ones that stay and to each other.
          const added = sumsOf(count, seed + 1, ties);
          if (n > 0 && count > 1) added.set(sums.subarray(0, 32), 32);
          const kept = new Uint8Array([...sums.subarray(0, from * 32), ...sums.subarray((from + k) * 32)]);
          const after = new Uint8Array([...kept, ...added]);
          const base = digestInput(sums, n);
          const spliced = spliceDigestInput({ base, removed, added }) as Uint8Array;
          assert.ok(spliced, "spliced");
          assert.deepEqual(spliced, digestInput(after, after.length / 32));
          const hexes = Array.from({ length: after.length / 32 }, (_, i) => hexOf(after.subarray(i * 32, i * 32 + 32)));
          assert.deepEqual(spliced, naiveInput(hexes));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("refuses a change whose removed checksum the input does not hold", () => {
    const sums = sumsOf(20, 3, false);
    const base = digestInput(sums, 20);
    assert.equal(spliceDigestInput({ base, removed: new Uint8Array(32).fill(1), added: new Uint8Array(0) }), undefined);
    // One checksum held once cannot go twice.
    const twice = new Uint8Array([...sums.subarray(0, 32), ...sums.subarray(0, 32)]);
    assert.equal(spliceDigestInput({ base, removed: twice, added: new Uint8Array(0) }), undefined);
    // Nor can a base that is not whole entries be one.
    assert.equal(spliceDigestInput({ base: base.subarray(1), removed: new Uint8Array(0), added: sums }), undefined);
  });

  it("stored, reads back only for the digest and entry count it was made for, and intact", () => {
    const sums = sumsOf(50, 9, true);
    const input = digestInput(sums, 50);
    const digest = sha256Hex(input);
    const stored = encodeDigestInput(input, digest).slice();
    assert.deepEqual(decodeDigestInput(stored, digest, 50), input);
    assert.equal(decodeDigestInput(stored, sha256Hex("other"), 50), undefined, "another tree's");
    assert.equal(decodeDigestInput(stored, digest, 49), undefined, "another entry count");
    assert.equal(decodeDigestInput(stored.subarray(0, stored.length - 65), digest, 49), undefined, "cut short");
    for (const at of [0, 4, 9, 20, 100, stored.length - 1]) {
      const damaged = stored.slice();
      damaged[at] = (damaged[at] as number) ^ 0x20;
      assert.equal(decodeDigestInput(damaged, digest, 50), undefined, `byte ${at} changed`);
    }
    assert.deepEqual(decodeDigestInput(encodeDigestInput(new Uint8Array(0), digest), digest, 0), new Uint8Array(0));
  });

  it("encoding writes the header in place only before an input the tables made, never into a caller's buffer", () => {
    const input = digestInput(sumsOf(3, 1, false), 3);
    const digest = sha256Hex(input);
    const outer = new Uint8Array(1000).fill(7);
    outer.set(input, 500);
    const view = outer.subarray(500, 500 + input.length);
    const stored = encodeDigestInput(view, digest);
    assert.ok(
      outer.subarray(0, 500).every((b) => b === 7),
      "nothing written before the caller's view",
    );
    assert.notEqual(stored.buffer, outer.buffer);
    assert.deepEqual(decodeDigestInput(stored, digest, 3), input);
    // A table's own input is framed where it lies: no copy of its megabytes.
    assert.equal(encodeDigestInput(input, digest).buffer, input.buffer);
  });
});

describe("a recorded table's digest input", () => {
  const changesOf = (table: RecordedTable, seed: number): TableChange[] => {
    const changes: TableChange[] = [];
    for (let i = seed % 7; i < table.size; i += 9) {
      changes.push({ kind: "modify", path: path(i), checksum: hexOf(sumsOf(1, seed + i, false)) });
    }
    changes.push({ kind: "delete", path: path(table.size - 1) });
    changes.push({ kind: "add", path: `${path(3)}x`, checksum: table.checksum(0) });
    return changes;
  };

  it("of a table folded from one whose input is known, gives the digest of the entries made anew", () => {
    for (const seed of [1, 2, 3]) {
      const table = tableOf(sumsOf(300, seed, seed === 2));
      table.digest(nodeSha256);
      assert.ok(table.knownDigestInput(), "made with the digest");
      const next = table.withChanges(changesOf(table, seed));
      const anew = RecordedTable.fromEntries(next.entries());
      assert.equal(next.digest(nodeSha256), anew.digest(nodeSha256));
      assert.deepEqual(next.knownDigestInput(), anew.knownDigestInput());
      assert.equal(`dir:${next.digest(nodeSha256)}`, HashTree.fromWalkOrder(nodeSha256, next.entries()).hash("."));
    }
  });

  it("is taken from the store only for the table it was made for, and then folded from", () => {
    const table = tableOf(sumsOf(200, 5, false));
    const digest = table.digest(nodeSha256);
    const stored = encodeDigestInput(table.knownDigestInput() as Uint8Array, digest).slice();
    const reload = () => new RecordedTable({ ...table, links: new Map() }, { digest });
    assert.equal(reload().adoptDigestInput(stored), true);
    assert.equal(
      tableOf(sumsOf(200, 6, false)).adoptDigestInput(stored),
      false,
      "no digest known: nothing to check against",
    );
    const other = new RecordedTable({ ...table, links: new Map() }, { digest: sha256Hex("x") });
    assert.equal(other.adoptDigestInput(stored), false, "another digest");

    // Taken, it is what the next table's input is made from: a stored input whose
    // check holds but whose entries were swapped for others shows in the next digest.
    const forged = table.knownDigestInput()?.slice() as Uint8Array;
    forged.set(new TextEncoder().encode("0".repeat(64)), 0);
    const adopted = reload();
    assert.equal(adopted.adoptDigestInput(encodeDigestInput(forged, digest)), true);
    const changes = changesOf(table, 5);
    const truth = table.withChanges(changes).digest(nodeSha256);
    assert.notEqual(adopted.withChanges(changes).digest(nodeSha256), truth);
    // Without it, the same fold makes its input anew and is right.
    assert.equal(reload().withChanges(changes).digest(nodeSha256), truth);
  });
});

describe("FSCache keeps each snapshot's digest input in the MetaStore", () => {
  // Enough entries that two changed files are few: past a quarter changed, the input is made anew.
  const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`f${i}`, `content ${i}`]));
  const tree: TreeSpec = {
    "many/": many,
    "dir/": { a: "A", b: "B" },
    "other/": { c: "C" },
    foo: "data",
    lnk: { symlink: "target" },
  };

  const ENTRIES = 48;
  const changed: TreeSpec = { ...tree, foo: "changed", "dir/": { a: "A", d: "D" } };

  async function syncs(metaStore: MetaStore, backend: MemoryBackend, content: TreeSpec, key: string) {
    const cache = await FSCache.open({ backend, metaStore, logger: recordingLogger(), gcInterval: 0 });
    cache.registerTransport("mem", new MemoryTransport(content));
    const src = await cache.syncFrom({ key, sharedKey: "p", transport: "mem" });
    const root = await src.hash(".");
    const scanned = (await inlineScanner.scan(src.fs, src.root, nodeSha256)).hash(".");
    await src.close();
    await cache.close();
    return { root, scanned };
  }

  it("stores it with the tree, and after a restart folds the next sync's root digest right, whatever was stored", async () => {
    const cases: [string, (stored: Uint8Array) => Uint8Array][] = [
      ["intact", (stored) => stored],
      ["damaged", (stored) => stored.map((b, i) => (i === stored.length - 3 ? b ^ 1 : b))],
      ["cut short", (stored) => stored.subarray(0, 100)],
      ["another tree's", () => encodeDigestInput(digestInput(sumsOf(ENTRIES, 1, false), ENTRIES), sha256Hex("x"))],
    ];
    for (const [name, alter] of cases) {
      const metaStore = new MemoryMetaStore();
      const backend = new MemoryBackend();
      const first = await syncs(metaStore, backend, tree, "v1");
      const stored = (await metaStore.getDigestInput("v1")) as Uint8Array;
      assert.ok(stored, "stored with the tree");
      assert.ok(decodeDigestInput(stored, first.root.slice(4), ENTRIES), "for the tree's root digest");
      await metaStore.putDigestInput("v1", alter(stored));
      const second = await syncs(metaStore, backend, changed, "v2");
      assert.equal(second.root, second.scanned, name);
      const next = (await metaStore.getDigestInput("v2")) as Uint8Array;
      assert.ok(
        decodeDigestInput(next, second.root.slice(4), ENTRIES),
        `${name}: the new input stored for the new digest`,
      );
    }
  });

  it("after a restart, folds the next root digest from the stored input (a forged one that passes the checks shows)", async () => {
    const metaStore = new MemoryMetaStore();
    const backend = new MemoryBackend();
    const first = await syncs(metaStore, backend, tree, "v1");
    const stored = (await metaStore.getDigestInput("v1")) as Uint8Array;
    const input = decodeDigestInput(stored, first.root.slice(4), ENTRIES) as Uint8Array;
    // Entries that stay, swapped for zeros: only a digest made from this input has them.
    const forged = input.slice();
    forged.fill(0x30, 0, 64);
    await metaStore.putDigestInput("v1", encodeDigestInput(forged, first.root.slice(4)));
    const second = await syncs(metaStore, backend, changed, "v2");
    assert.notEqual(second.root, second.scanned);
  });

  it("lets an idle source's input go from memory, and takes it back from the store at the next sync", async () => {
    const metaStore = new MemoryMetaStore();
    const cache = await FSCache.open({
      backend: new MemoryBackend(),
      metaStore,
      logger: recordingLogger(),
      gcInterval: 0,
    });
    const transport = new MemoryTransport(tree);
    cache.registerTransport("mem", transport);
    const hashOf = async (key: string) => {
      await using src = await cache.syncFrom({ key, sharedKey: "p", transport: "mem" });
      return { root: await src.hash("."), scanned: (await inlineScanner.scan(src.fs, src.root, nodeSha256)).hash(".") };
    };
    const first = await hashOf("v1");
    // The tree stays in memory; a forged input that passes the checks, put in the store
    // now, shows in the next digest only if the sync takes the input from the store.
    const input = decodeDigestInput((await metaStore.getDigestInput("v1")) as Uint8Array, first.root.slice(4), ENTRIES);
    const forged = (input as Uint8Array).slice();
    forged.fill(0x30, 0, 64);
    await metaStore.putDigestInput("v1", encodeDigestInput(forged, first.root.slice(4)));
    transport.tree = changed;
    const second = await hashOf("v2");
    assert.notEqual(second.root, second.scanned);
    // With the true input back in the store, the next sync folds right again.
    const truth = (await metaStore.getDigestInput("v2")) as Uint8Array;
    assert.ok(decodeDigestInput(truth, second.root.slice(4), ENTRIES), "stored for the digest it made");
    await cache.close();
  });

  it("works as before with a store that keeps none", async () => {
    const inner = new MemoryMetaStore();
    const metaStore = {
      loadAll: () => inner.loadAll(),
      put: (r: SourceRecord) => inner.put(r),
      delete: (k: string) => inner.delete(k),
      rebase: (k: string, r: SourceRecord) => inner.rebase(k, r),
      getHashTree: (k: string) => inner.getHashTree(k),
      putHashTree: (k: string, d: Uint8Array) => inner.putHashTree(k, d),
      close: () => inner.close(),
    } as MetaStore;
    const backend = new MemoryBackend();
    await syncs(metaStore, backend, tree, "v1");
    const second = await syncs(metaStore, backend, changed, "v2");
    assert.equal(second.root, second.scanned);
    assert.equal(await inner.getDigestInput("v2"), undefined);
  });
});
