/** The README's API example, verbatim, must keep working. */
import assert from "node:assert/strict";
import { it } from "node:test";
import { FSCache, MemoryBackend, MemoryMetaStore, type Transport } from "../mod.ts";

it("the documented usage runs as written", async () => {
  const transport: Transport = {
    async copy({ id, dest, fs }) {
      await fs.writeFile(`${dest}/${id.key}`, String((id as { data?: string }).data));
    },
  };
  const cache = await FSCache.open({
    backend: new MemoryBackend(),
    metaStore: new MemoryMetaStore(),
    gcPolicy: { maxSize: 15, maxKeepDuration: 60 * 60 * 1000 }, // bytes, milliseconds
  });
  cache.registerTransport("test", transport);
  const src = await cache.syncFrom({ key: "foo", sharedKey: "bar", transport: "test", data: "data" });
  assert.equal(await src.fs.readFile(`${src.root}/foo`, "utf8"), "data");
  await src.close();
  assert.equal(await cache.diskUsage(), 4);
  assert.equal(await cache.prune(), 4);
  await cache.close();
});

it("await using releases the reference at the end of the block", async () => {
  const cache = await FSCache.open({ backend: new MemoryBackend(), metaStore: new MemoryMetaStore(), gcInterval: 0 });
  cache.registerTransport("t", {
    async copy({ dest, fs }) {
      await fs.writeFile(`${dest}/a`, "abc");
    },
  });
  {
    await using src = await cache.syncFrom({ key: "k", transport: "t" });
    assert.equal((await cache.sources())[0]?.refs, 1);
    assert.equal(await src.fs.readFile(`${src.root}/a`, "utf8"), "abc");
  }
  assert.equal((await cache.sources())[0]?.refs, 0);
  await cache.close();
});
