/**
 * The writing half of the stored hash-tree format (`recorded_table_codec.ts`): a
 * {@linkcode RecordedTable} to the bytes `serializeHashTree` writes for the same entries,
 * copying runs of entries that stored bytes already hold.
 * @module
 */
import { checkTreeNumber, crc32, putVarint } from "./byte_io.ts";
import { HAS_LINK, HAS_STAT, MAGIC, VERSION } from "./hash_tree_codec.ts";
import { encodeName } from "./names.ts";
import { type EncodedEntries, type RecordedTable, TABLE_STAT_FIELDS } from "./recorded_table.ts";
import type { Sha256Factory } from "./types.ts";

/**
 * Encodes a table exactly as `serializeHashTree` encodes a tree with the same entries.
 * The root digest it stores is the table's (computed now with `sha256` unless known):
 * the caller's `hash(".")` then finds it cached. A table made by a few changes to a
 * decoded one copies its unchanged runs of entries as the stored bytes they were.
 *
 * @example
 * ```ts
 * await metaStore.putHashTree(key, encodeRecordedTable(table, nodeSha256));
 * ```
 */
export function encodeRecordedTable(table: RecordedTable, sha256: Sha256Factory): Uint8Array {
  const root = table.digest(sha256);
  const encoded = table.takeEncoded();
  const runs = encoded?.runs ?? [];
  // Names of the entries encoded here (all but the copied runs' tails), one string
  // encoded at once; NUL separates them (no name holds one).
  const fresh: string[] = [];
  let copied = 0;
  let from = 0;
  for (let r = 0; r < runs.length; r += 3) {
    const at = runs[r] as number;
    // A run's first entry is encoded again: the name before it is another one now.
    for (let i = from; i <= at; i++) fresh.push(table.paths[i] as string);
    const length = (runs[r + 2] as number) - (runs[r + 1] as number);
    const starts = (encoded as EncodedEntries).starts;
    copied += (starts[runs[r + 2] as number] as number) - (starts[(runs[r + 1] as number) + 1] as number);
    from = at + length;
  }
  for (let i = from; i < table.size; i++) fresh.push(table.paths[i] as string);
  const names = encodeName(fresh.join("\0"));
  let linkBytes = 0;
  for (const link of table.links.values()) linkBytes += link.length * 3 + 8;
  // Written straight into a buffer of the largest size it can take (varints ≤ 8 bytes
  // for safe integers), with no call per byte: this runs once per sync that changed
  // something, mostly before the JIT has optimized it.
  const w = new EntryWriter(
    5 + 32 + 8 + names.length + fresh.length * (8 + 8 + 32 + 1 + 4 * 8 + 8) + linkBytes + copied + 4,
  );
  for (const b of MAGIC) w.out[w.o++] = b;
  w.out[w.o++] = VERSION;
  for (let i = 0; i < 64; i += 2) w.out[w.o++] = Number.parseInt(root.slice(i, i + 2), 16);
  w.varint(table.size);
  let i = 0;
  const next = () => w.entry(table, i++, names);
  for (let r = 0; r < runs.length; r += 3) {
    const at = runs[r] as number;
    while (i <= at) next();
    const { bytes, starts } = encoded as EncodedEntries;
    const tail = bytes.subarray(starts[(runs[r + 1] as number) + 1], starts[runs[r + 2] as number]);
    w.out.set(tail, w.o);
    w.o += tail.length;
    i = at + (runs[r + 2] as number) - (runs[r + 1] as number);
    // The next name encoded here shares its prefix with the run's last, not with the one encoded before.
    w.previous = encodeName(table.paths[i - 1] as string);
    w.previousStart = 0;
    w.previousLength = w.previous.length;
  }
  while (i < table.size) next();
  new DataView(w.out.buffer).setUint32(w.o, crc32(w.out.subarray(0, w.o)));
  // Copied only when much bigger than needed (encoded in full): a copy of megabytes costs
  // a page fault per 4 KiB, and runs copied as they were leave little to spare.
  const spare = w.out.length - (w.o + 4);
  return spare > w.out.length / 8 ? w.out.slice(0, w.o + 4) : w.out.subarray(0, w.o + 4);
}

/** Writes entries one after the other, each name stored as the bytes it shares with the one before plus the rest. */
class EntryWriter {
  readonly out: Uint8Array;
  readonly #view: DataView;
  o = 0;
  /** Where the name written last is: `previous[previousStart, previousStart + previousLength)`. */
  previous: Uint8Array = new Uint8Array(0);
  previousStart = 0;
  previousLength = 0;
  /** Where the next name starts in the encoded names. */
  #nameStart = 0;

  constructor(size: number) {
    this.out = new Uint8Array(size);
    this.#view = new DataView(this.out.buffer);
  }

  varint(value: number): void {
    checkTreeNumber(value);
    this.o = putVarint(this.out, this.o, value);
  }

  /** Writes entry `i` of `table`, whose name is the next one in `names` (NUL-separated). */
  entry(table: RecordedTable, i: number, names: Uint8Array): void {
    const out = this.out;
    const start = this.#nameStart;
    let end = names.indexOf(0, start);
    if (end === -1) end = names.length;
    const length = end - start;
    const previous = this.previous;
    const max = Math.min(length, this.previousLength);
    let shared = 0;
    while (shared < max && names[start + shared] === previous[this.previousStart + shared]) shared++;
    this.varint(shared);
    this.varint(length - shared);
    // Byte loops, not `set` of a `subarray`: an object per call for a few bytes made
    // these two copies most of the encoding's time.
    let o = this.o;
    for (let k = start + shared; k < end; k++) out[o++] = names[k] as number;
    this.previous = names;
    this.previousStart = start;
    this.previousLength = length;
    this.#nameStart = end + 1;
    const sums = table.sums;
    for (let k = i * 32; k < i * 32 + 32; k++) out[o++] = sums[k] as number;
    this.o = o;
    const s = table.stats;
    const f = i * TABLE_STAT_FIELDS;
    if (Number.isNaN(s[f])) {
      out[this.o++] = 0;
      return;
    }
    const link = table.links.get(i);
    out[this.o++] = HAS_STAT | (link !== undefined ? HAS_LINK : 0);
    this.varint(s[f] as number);
    this.varint(s[f + 1] as number);
    this.varint(s[f + 2] as number);
    this.varint(s[f + 3] as number);
    this.#view.setFloat64(this.o, s[f + 4] as number, true);
    this.o += 8;
    if (link !== undefined) {
      const bytes = encodeName(link);
      this.varint(bytes.length);
      out.set(bytes, this.o);
      this.o += bytes.length;
    }
  }
}
