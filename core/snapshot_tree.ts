/**
 * The hash tree the cache keeps for each snapshot, in whichever form is cheapest for
 * what is asked of it: columns ({@linkcode RecordedTable}) as loaded from the store and
 * as a sync needs them, or the {@linkcode HashTree} trie, built only when a path other
 * than the root is looked up (or a scan produced one).
 * @module
 */
import { encodeDigestInput } from "./digest_input.ts";
import { HashTree, type TreeEntryKind } from "./hash_tree.ts";
import { serializeHashTree } from "./hash_tree_codec.ts";
import { cleanRelativePath } from "./path.ts";
import { RecordedTable, type TableChange } from "./recorded_table.ts";
import { decodeRecordedTable, encodeRecordedTable } from "./recorded_table_codec.ts";
import { TableAppender } from "./table_appender.ts";
import type { ChangeKind, EntryStat, RecordedTree, Sha256Factory } from "./types.ts";

/**
 * A snapshot's recorded entries with their checksums.
 *
 * @example
 * ```ts
 * const tree = SnapshotTree.decode(await metaStore.getHashTree(key), nodeSha256);
 * tree.apply("modify", "a.txt", sum, stat);
 * await metaStore.putHashTree(key, tree.serialize());
 * tree.hash("."); // "dir:…"
 * ```
 */
export class SnapshotTree {
  readonly #sha256: Sha256Factory;
  #table: RecordedTable | undefined;
  #trie: HashTree | undefined;
  /** Changes not yet folded into `#table`. */
  #changes: TableChange[] = [];
  /**
   * An empty table's adds and modifies, not yet folded in: all of them until the first
   * delete, after which (and once folded) `#changes` takes every change.
   */
  #appender: TableAppender | undefined;

  private constructor(sha256: Sha256Factory, table: RecordedTable | undefined, trie: HashTree | undefined) {
    this.#sha256 = sha256;
    this.#table = table;
    this.#trie = trie;
    if (table?.size === 0) this.#appender = new TableAppender();
  }

  /** A tree without entries (a new snapshot). */
  static empty(sha256: Sha256Factory): SnapshotTree {
    return new SnapshotTree(sha256, RecordedTable.empty(), undefined);
  }

  /**
   * The tree of stored bytes (kept, not copied: they must not change); throws
   * `ERR_CORRUPT` like `deserializeHashTree`.
   */
  static decode(data: Uint8Array, sha256: Sha256Factory): SnapshotTree {
    return new SnapshotTree(sha256, decodeRecordedTable(data), undefined);
  }

  /** Wraps a trie (as a scan builds it). */
  static of(tree: HashTree, sha256: Sha256Factory): SnapshotTree {
    return new SnapshotTree(sha256, undefined, tree);
  }

  get size(): number {
    return this.recorded().size;
  }

  /** The entries as a transport reads them (`previous` of a copy). */
  recorded(): RecordedTree {
    return this.#trie ?? this.#folded();
  }

  /**
   * Records a change already checked by the updater (`validateChange`): `add`/`modify`
   * set an entry, `delete` removes it and everything below it.
   */
  apply(kind: ChangeKind, path: string, checksum?: string, stat?: EntryStat): void {
    if (this.#trie) {
      this.#trie.apply(kind, path, checksum, stat);
      return;
    }
    if (kind === "delete") this.#stopAppending();
    else if (this.#appender) {
      this.#appender.add(path, checksum as string, stat);
      return;
    }
    this.#changes.push({ kind, path, checksum, stat: stat === undefined ? undefined : { ...stat } });
  }

  /** Bytes the snapshot holds, from the recorded stats (see `HashTree.contentSize`). */
  contentSize(): number | undefined {
    return this.#trie ? this.#trie.contentSize() : this.#folded().contentSize();
  }

  /** The bytes for `MetaStore.putHashTree`, the same whichever form the tree is in. */
  serialize(): Uint8Array {
    return this.#trie ? serializeHashTree(this.#trie) : encodeRecordedTable(this.#folded(), this.#sha256);
  }

  /**
   * Offers the stored digest input of the decoded tree (`MetaStore.getDigestInput`):
   * kept when it matches, so that the tree folded from it next makes its root digest
   * from it. Returns whether it was kept.
   */
  adoptDigestInput(stored: Uint8Array): boolean {
    return this.#trie === undefined && this.#table !== undefined && this.#table.adoptDigestInput(stored);
  }

  /** Lets the decoded or folded columns' digest input go (see `RecordedTable.forgetDigestInput`). */
  forgetDigestInput(): void {
    if (this.#changes.length === 0) this.#table?.forgetDigestInput();
  }

  /**
   * The bytes for `MetaStore.putDigestInput`, when the tree's columns know their digest
   * input (they made it with the root digest, as `serialize` does); else `undefined`.
   */
  storedDigestInput(): Uint8Array | undefined {
    if (this.#trie) return undefined;
    const table = this.#folded();
    const input = table.knownDigestInput();
    return input && encodeDigestInput(input, table.digest(this.#sha256));
  }

  /** See `HashTree.kindOf`. */
  kindOf(path: string): TreeEntryKind | undefined {
    if (!this.#trie && cleanRelativePath(path) === ".") return "dir";
    return this.#toTrie().kindOf(path);
  }

  /**
   * See `HashTree.hash`; the root's checksum comes from the columns, without building the
   * trie: decoded and unchanged, the table answers with the digest stored with it (no sort
   * or hash over the entries); once changes are folded in, the new table computes its own.
   */
  hash(path: string, kind?: "dir" | "file"): string | undefined {
    if (!this.#trie && cleanRelativePath(path) === ".") return `dir:${this.#folded().digest(this.#sha256)}`;
    return this.#toTrie().hash(path, kind);
  }

  #folded(): RecordedTable {
    this.#stopAppending();
    const table = this.#table as RecordedTable;
    if (this.#changes.length === 0) return table;
    this.#table = table.withChanges(this.#changes);
    this.#changes = [];
    return this.#table;
  }

  /** Folds the appended entries in (the table was empty) and appends no more. */
  #stopAppending(): void {
    if (this.#appender && this.#appender.size > 0) this.#table = this.#appender.finish();
    this.#appender = undefined;
  }

  #toTrie(): HashTree {
    if (!this.#trie) {
      this.#trie = HashTree.fromWalkOrder(this.#sha256, this.#folded().entries());
      this.#table = undefined;
    }
    return this.#trie;
  }
}
