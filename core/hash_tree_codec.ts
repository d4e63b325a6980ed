/**
 * The trie's bytes for the MetaStore: the same stored format as a table's
 * (`recorded_table_codec.ts`), written and read through the table, so the two forms of
 * a tree store the same bytes and reject the same damage.
 * @module
 */
import { corrupt } from "./byte_io.ts";
import { FSCacheError } from "./errors.ts";
import { HashTree } from "./hash_tree.ts";
import { RecordedTable } from "./recorded_table.ts";
import { decodeRecordedTable } from "./recorded_table_codec.ts";
import { encodeWithDigest } from "./recorded_table_encoder.ts";
import type { Sha256Factory } from "./types.ts";

/**
 * Encodes a tree for {@linkcode MetaStore.putHashTree}.
 *
 * @example
 * ```ts
 * await metaStore.putHashTree(key, serializeHashTree(tree));
 * ```
 */
export function serializeHashTree(tree: HashTree): Uint8Array {
  // `dir:` and 64 hex digits; the trie caches it, so a later `hash(".")` costs nothing more.
  const root = (tree.hash(".", "dir") as string).slice("dir:".length);
  return encodeWithDigest(RecordedTable.fromEntries(tree.entries(), { contentSize: tree.contentSize() ?? null }), root);
}

/**
 * Decodes stored tree bytes (any version); throws `ERR_CORRUPT` as `decodeRecordedTable`
 * does. The trie computes its root digest itself when asked: a stored one is not used here.
 *
 * @example
 * ```ts
 * const tree = deserializeHashTree(await metaStore.getHashTree(key), nodeSha256);
 * ```
 */
export function deserializeHashTree(data: Uint8Array, sha256: Sha256Factory): HashTree {
  const table = decodeRecordedTable(data);
  try {
    return HashTree.fromWalkOrder(sha256, table.entries());
  } catch (err) {
    if (err instanceof FSCacheError && err.code === "ERR_CORRUPT") throw err;
    corrupt(`bad entry ${JSON.stringify((err as { path?: unknown }).path)}`, err);
  }
}
