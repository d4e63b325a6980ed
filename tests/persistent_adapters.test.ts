/** The persistent adapters against the shared conformance suites. */
import "fake-indexeddb/auto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiskBackend, FileMetaStore, IdbMetaStore } from "../mod.ts";
import { testBackend } from "./conformance/backend.ts";
import { testMetaStore } from "./conformance/meta_store.ts";

testBackend("DiskBackend", async () => {
  const root = mkdtempSync(join(tmpdir(), "fscache-"));
  return { backend: new DiskBackend(root), cleanup: async () => rmSync(root, { recursive: true, force: true }) };
});

testMetaStore("FileMetaStore", () => {
  const root = mkdtempSync(join(tmpdir(), "fscache-"));
  return {
    open: async () => new FileMetaStore(root),
    reopen: async () => new FileMetaStore(root),
    cleanup: async () => rmSync(root, { recursive: true, force: true }),
  };
});

let databases = 0;
testMetaStore("IdbMetaStore", () => {
  const dbName = `fscache-test-${++databases}`;
  return {
    open: async () => new IdbMetaStore({ dbName }),
    reopen: async () => new IdbMetaStore({ dbName }),
    cleanup: () =>
      new Promise<void>((resolve, reject) => {
        const req = indexedDB.deleteDatabase(dbName);
        req.onsuccess = () => resolve();
        req.onerror = () => reject(req.error);
      }),
  };
});
