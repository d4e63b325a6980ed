/**
 * The adapter pairs the FSCache behaviour tests run over: memory, and the on-disk
 * default. A harness owns one location; `adapters()` called again after the cache
 * closed is a restart over the same data.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Backend,
  DiskBackend,
  FileMetaStore,
  type Logger,
  MemoryBackend,
  MemoryMetaStore,
  type MetaStore,
} from "../mod.ts";

/** One location for a cache's snapshots and records. */
export interface AdapterHarness {
  /** Adapters over this location; the store reports to `logger` where it reports anything. */
  adapters(options?: { logger?: Logger }): { backend: Backend; metaStore: MetaStore };
  cleanup(): void;
}

/** A kind of adapters, by name. */
export interface AdapterKind {
  name: string;
  create(): AdapterHarness;
}

export const memoryAdapters: AdapterKind = {
  name: "memory",
  create() {
    // Memory adapters survive a cache's close(): the same instances are the "restart".
    const backend = new MemoryBackend();
    const metaStore = new MemoryMetaStore();
    return { adapters: () => ({ backend, metaStore }), cleanup: () => undefined };
  },
};

export const diskAdapters: AdapterKind = {
  name: "disk",
  create() {
    const root = mkdtempSync(join(tmpdir(), "fscache-"));
    return {
      adapters: (options = {}) => ({ backend: new DiskBackend(root), metaStore: new FileMetaStore(root, options) }),
      cleanup: () => rmSync(root, { recursive: true, force: true }),
    };
  },
};

/** Every kind the behaviour tests run over. */
export const adapterKinds: readonly AdapterKind[] = [memoryAdapters, diskAdapters];

/** Runs `body` with a fresh harness of `kind`, cleaning up afterwards. */
export async function withHarness(kind: AdapterKind, body: (h: AdapterHarness) => Promise<void>): Promise<void> {
  const h = kind.create();
  try {
    await body(h);
  } finally {
    h.cleanup();
  }
}
