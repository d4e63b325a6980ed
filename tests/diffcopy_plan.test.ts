/**
 * The receiver's plan against what it holds: equal entries are left alone, a directory
 * equal but for its mtime is only retimed, what the sender no longer has is deleted
 * (parents only), and a recorded tree gives the same snapshot as its entries.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RecordedTable } from "../core/recorded_table.ts";
import type { EntryStat, RecordedEntry, RecordedTree } from "../core/types.ts";
import { planChanges } from "../transports/diffcopy/diff.ts";
import { stat } from "../transports/diffcopy/packet.ts";
import { type Snapshot, snapshotFromRecord } from "../transports/diffcopy/snapshot.ts";
import { StatValidator } from "../transports/diffcopy/stat_validator.ts";

const DIR = 0o040755;
const FILE = 0o100644;
const GO_DIR = 0x80000000 | 0o755;
const MS = 1_700_000_000_000;

function incoming(entries: [path: string, dir: boolean, size: number, mtimeMs: number][]) {
  const validator = new StatValidator();
  return entries.map(([path, dir, size, mtimeMs]) =>
    validator.check(
      stat({ path, mode: dir ? GO_DIR : 0o644, size: dir ? 0 : size, modTime: BigInt(mtimeMs) * 1_000_000n }),
    ),
  );
}

function snapshot(entries: [path: string, dir: boolean, size: number, mtimeMs: number][]): Snapshot {
  return new Map(
    entries.map(([path, dir, size, mtimeMs]) => [
      path,
      { mode: dir ? DIR : FILE, uid: 0, gid: 0, size: dir ? 0 : size, mtimeMs } satisfies EntryStat,
    ]),
  );
}

const tree: [string, boolean, number, number][] = [
  ["a", true, 0, MS],
  ["a/one.txt", false, 3, MS],
  ["a/two.txt", false, 4, MS],
  ["b", true, 0, MS],
  ["b/c", true, 0, MS],
  ["b/c/deep.txt", false, 1, MS],
  ["z.txt", false, 9, MS],
];

describe("planChanges", () => {
  it("plans nothing when sender and snapshot agree", () => {
    assert.deepEqual(planChanges(incoming(tree), snapshot(tree), { compareOwner: false }), {
      deletes: [],
      changes: [],
      retimes: [],
    });
  });

  it("only retimes a directory whose mtime alone differs", () => {
    const moved = tree.map(([p, d, s, m]) => [p, d, s, p === "b" ? m + 5000 : m] as [string, boolean, number, number]);
    const plan = planChanges(incoming(tree), snapshot(moved), { compareOwner: false });
    assert.deepEqual(plan.retimes, ["b"]);
    assert.deepEqual(plan.changes, []);
  });

  it("updates a file whose size or mtime differs and adds what is new", () => {
    const sent: [string, boolean, number, number][] = [
      ...tree.slice(0, 2),
      ["a/three.txt", false, 1, MS],
      ["a/two.txt", false, 4, MS + 2000],
      ...tree.slice(3),
    ];
    const plan = planChanges(incoming(sent), snapshot(tree), { compareOwner: false });
    assert.deepEqual(
      plan.changes.map((c) => [c.entry.path, c.existed]),
      [
        ["a/three.txt", false],
        ["a/two.txt", true],
      ],
    );
    assert.deepEqual(plan.deletes, []);
  });

  it("deletes what the sender no longer has, parents only", () => {
    const sent = tree.filter(([p]) => p !== "b" && !p.startsWith("b/") && p !== "a/one.txt");
    const plan = planChanges(incoming(sent), snapshot(tree), { compareOwner: false });
    assert.deepEqual(plan.deletes, ["a/one.txt", "b"]);
    assert.deepEqual(plan.changes, []);
  });

  it("deletes even when as many entries arrive as the snapshot holds", () => {
    // one gone, one new: the counts match, the paths do not
    const sent = tree.map(
      ([p, d, s, m]) => [p === "z.txt" ? "y.txt" : p, d, s, m] as [string, boolean, number, number],
    );
    const plan = planChanges(incoming(sent), snapshot(tree), { compareOwner: false });
    assert.deepEqual(plan.deletes, ["z.txt"]);
    assert.deepEqual(
      plan.changes.map((c) => c.entry.path),
      ["y.txt"],
    );
  });
});

describe("snapshotFromRecord", () => {
  it("gives the same snapshot from a recorded table as from its entries", () => {
    const entries: [string, RecordedEntry][] = tree.map(([path, dir, size, mtimeMs]) => [
      path,
      { checksum: "ab".repeat(32), stat: { mode: dir ? DIR : FILE, uid: 1, gid: 2, size, mtimeMs } },
    ]);
    entries.push(["zz-no-stat", { checksum: "cd".repeat(32) }]);
    const table = RecordedTable.fromEntries(entries);
    const generic: RecordedTree = { size: table.size, get: (p) => table.get(p), entries: () => table.entries() };
    assert.deepEqual([...snapshotFromRecord(table)], [...snapshotFromRecord(generic)]);
    assert.equal(snapshotFromRecord(table).get("zz-no-stat"), undefined);
    assert.ok(snapshotFromRecord(table).has("zz-no-stat"));
  });
});
