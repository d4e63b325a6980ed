/**
 * The local transport's change detection against a recorded tree: a source entry is
 * left alone exactly when its type, mode, size, mtime (and owner, as root) are the ones
 * recorded; anything else is rewritten, whichever way the comparison takes it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RecordedTable } from "../core/recorded_table.ts";
import type { EntryStat } from "../core/types.ts";
import { planAgainstRecord } from "../transports/local/plan.ts";
import { STAT_FIELDS, type WalkResult } from "../transports/local/walk.ts";

const SUM = "0".repeat(64);
const file = (extra: Partial<EntryStat> = {}): EntryStat => ({
  mode: 0o100644,
  uid: 1000,
  gid: 1000,
  size: 5,
  mtimeMs: 1_700_000_000_123.456,
  ...extra,
});

/** A walk of `entries` (in walk order), as the walker gives it. */
function walkOf(entries: [string, EntryStat][]): WalkResult {
  const stats = new Float64Array(entries.length * STAT_FIELDS);
  entries.forEach(([, s], i) => {
    stats.set([s.mode, s.uid, s.gid, s.size, s.mtimeMs, Number.NaN], i * STAT_FIELDS);
  });
  return { paths: entries.map(([p]) => p), stats, links: entries.map(() => ""), skipped: [] };
}

const recorded = RecordedTable.fromEntries([
  ["a", { checksum: SUM, stat: file() }],
  ["b", { checksum: SUM, stat: file() }],
  ["c", { checksum: SUM, stat: file() }],
]);

describe("planAgainstRecord", () => {
  it("leaves alone what is as recorded, rewrites a file whose size, mtime, mode or kind differs", () => {
    const changes: [string, Partial<EntryStat>][] = [
      ["size", { size: 6 }],
      ["mtime", { mtimeMs: 1_700_000_000_124.456 }],
      ["mode", { mode: 0o100755 }],
      ["kind", { mode: 0o040755 }],
    ];
    for (const [what, change] of changes) {
      const plan = planAgainstRecord(
        walkOf([
          ["a", file()],
          ["b", file(change)],
          ["c", file()],
        ]),
        recorded,
        { owners: false, mtimeSlack: 0, linkTimes: true },
      );
      assert.equal(plan.unchanged, 2, what);
      const written = [...plan.files, ...plan.dirs].map((e) => e.index);
      assert.deepEqual(written, [1], what);
      assert.deepEqual(plan.deletes, what === "kind" ? ["b"] : [], what);
    }
  });

  it("compares owners only when asked to (as root, who can restore them)", () => {
    const walk = walkOf([
      ["a", file({ uid: 0 })],
      ["b", file({ gid: 0 })],
      ["c", file()],
    ]);
    const asRoot = planAgainstRecord(walk, recorded, { owners: true, mtimeSlack: 0, linkTimes: true });
    assert.deepEqual(
      asRoot.files.map((e) => [e.index, e.kind]),
      [
        [0, "modify"],
        [1, "modify"],
      ],
    );
    assert.equal(asRoot.unchanged, 1);
    const asUser = planAgainstRecord(walk, recorded, { owners: false, mtimeSlack: 0, linkTimes: true });
    assert.deepEqual(asUser.files, []);
    assert.equal(asUser.unchanged, 3);
  });

  it("takes a whole-millisecond mtime read by another runtime as the recorded one, and nothing else", () => {
    const plan = planAgainstRecord(
      walkOf([
        ["a", file({ mtimeMs: 1_700_000_000_123 })],
        ["b", file({ mtimeMs: 1_700_000_000_122 })],
        ["c", file()],
      ]),
      recorded,
      { owners: false, mtimeSlack: 0, linkTimes: true },
    );
    assert.deepEqual(
      plan.files.map((e) => e.index),
      [1],
    );
    assert.equal(plan.unchanged, 2);
  });
});
