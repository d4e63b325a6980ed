/** The state the restart tests start from, written in this process or in a child that is then killed. */
import { DiskBackend, FileMetaStore, FSCache } from "../mod.ts";
import { DataTransport } from "./_helpers.ts";

/** The populating clock's start; later opens use a clock after it. */
export const T0 = 1_700_000_000_000;
/** The hash tree stored for key `a`. */
export const TREE_OF_A: Uint8Array = new Uint8Array([1, 2, 3]);

/**
 * Opens `root` and syncs three keys a second apart — a (4 bytes, shared key s),
 * b (8 bytes), c (2 bytes) — gives a a stored hash tree, computes sizes, and waits
 * until every record is written. Returns the still-open cache.
 */
export async function populate(root: string): Promise<FSCache> {
  let now = T0;
  const metaStore = new FileMetaStore(root);
  const cache = await FSCache.open({ backend: new DiskBackend(root), metaStore, clock: () => now, gcInterval: 0 });
  cache.registerTransport("test", new DataTransport());
  for (const [key, sharedKey, data] of [
    ["a", "s", "aaaa"],
    ["b", "t", "bbbbbbbb"],
    ["c", "u", "cc"],
  ] as const) {
    await (await cache.syncFrom({ key, sharedKey, transport: "test", data })).close();
    now += 1000;
  }
  await metaStore.putHashTree("a", TREE_OF_A);
  await cache.diskUsage(); // sizes into the records
  await cache.flush();
  return cache;
}
