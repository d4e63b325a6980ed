/**
 * A first sync's adds go into growing columns as they are reported, in whatever order
 * the copying threads finish them; the table they make must be the one the same entries
 * make in walk order.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RecordedTable, TABLE_STAT_FIELDS } from "../core/recorded_table.ts";
import { TableAppender } from "../core/table_appender.ts";
import type { EntryStat } from "../core/types.ts";
import { nodeSha256 } from "../mod.ts";
import { seededRandom } from "./_helpers.ts";

const sum = (s: string) => {
  const h = nodeSha256();
  h.update(s);
  return h.digest();
};
const stat = (size: number, linkname?: string): EntryStat => ({
  mode: linkname === undefined ? 0o100644 : 0o120777,
  uid: 1,
  gid: 2,
  size,
  mtimeMs: 1_700_000_000_000 + size,
  ...(linkname === undefined ? {} : { linkname }),
});

/** Directories first, then files nearly in order: how a first sync reports them. */
function reported(count: number): [string, string, EntryStat | undefined][] {
  const dirs: [string, string, EntryStat | undefined][] = [];
  const files: [string, string, EntryStat | undefined][] = [];
  for (let d = 0; d < 10; d++) dirs.push([`d${d}`, sum(`d${d}`), undefined]);
  for (let i = 0; i < count; i++) {
    const path = `d${i % 10}/f${String(i).padStart(5, "0")}${i % 7 === 0 ? ".lnk" : ""}`;
    files.push([path, sum(path), stat(i, i % 7 === 0 ? `target${i}` : undefined)]);
  }
  files.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const random = seededRandom(7);
  for (let k = 0; k < 30; k++) {
    const i = Math.floor(random() * (files.length - 40));
    const j = i + 1 + Math.floor(random() * 30);
    [files[i], files[j]] = [files[j] as (typeof files)[0], files[i] as (typeof files)[0]];
  }
  return [...dirs, ...files];
}

describe("TableAppender", () => {
  it("makes the walk-order table of entries reported out of order, links kept with their entries", () => {
    const entries = reported(5000);
    const appender = new TableAppender();
    for (const [path, checksum, s] of entries) appender.add(path, checksum, s);
    assert.equal(appender.size, entries.length);
    const expected = RecordedTable.fromEntries(
      [...entries]
        .sort((a, b) => (a[0].replaceAll("/", "\0") < b[0].replaceAll("/", "\0") ? -1 : 1))
        .map(([path, checksum, s]) => [path, s === undefined ? { checksum } : { checksum, stat: s }]),
    );
    const table = appender.finish();
    assert.deepEqual(table.paths, expected.paths);
    assert.deepEqual([...table.entries()], [...expected.entries()]);
    assert.equal(table.digest(nodeSha256), expected.digest(nodeSha256));
    assert.equal(table.get("d3/f00063.lnk")?.stat?.linkname, "target63");
  });

  it("keeps the entry added last for a path added twice", () => {
    const appender = new TableAppender();
    appender.add("b", sum("b1"), stat(1));
    appender.add("a", sum("a"), undefined);
    appender.add("b", sum("b2"), stat(2, "t"));
    appender.add("a/c", sum("c"), undefined);
    const table = appender.finish();
    assert.deepEqual(table.paths, ["a", "a/c", "b"]);
    assert.deepEqual(table.get("b"), { checksum: sum("b2"), stat: stat(2, "t") });
  });

  it("hands over columns already in order as they are, sized to the entries", () => {
    const appender = new TableAppender();
    for (let i = 0; i < 3000; i++) appender.add(`f${String(i).padStart(4, "0")}`, sum(`${i}`), stat(i));
    const table = appender.finish();
    assert.equal(table.size, 3000);
    assert.equal(table.sums.length, 3000 * 32);
    assert.equal(table.stats.length, 3000 * TABLE_STAT_FIELDS);
    assert.equal(table.checksum(2999), sum("2999"));
    assert.equal(table.stat(1500)?.size, 1500);
  });
});
