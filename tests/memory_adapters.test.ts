/** The memory adapters against the shared conformance suites. */
import { MemoryBackend, MemoryMetaStore } from "../mod.ts";
import { testBackend } from "./conformance/backend.ts";
import { testMetaStore } from "./conformance/meta_store.ts";

testBackend("MemoryBackend", async () => ({ backend: new MemoryBackend() }));

testMetaStore("MemoryMetaStore", () => {
  const store = new MemoryMetaStore();
  return { open: async () => store, reopen: async () => store };
});
