/** The README's API example, runnable: `npm run example` (which is `deno run -A examples/quickstart.ts`, with the Deno the dev dependencies install). */
import { FSCache, MemoryBackend, MemoryMetaStore, type Transport } from "../mod.ts";

const transport: Transport = {
  async copy({ id, dest, fs }) {
    await fs.writeFile(`${dest}/${id.key}`, String((id as { data?: string }).data));
  },
};
const cache = await FSCache.open({
  backend: new MemoryBackend(),
  metaStore: new MemoryMetaStore(),
  gcPolicy: { maxSize: 15, maxKeepDuration: 60 * 60 * 1000 },
});
cache.registerTransport("test", transport);
const src = await cache.syncFrom({ key: "foo", sharedKey: "bar", transport: "test", data: "data" });
console.log(`synced key foo into ${src.root}: ${await src.fs.readFile(`${src.root}/foo`, "utf8")}`);
await src.close();
console.log(`idle bytes: ${await cache.diskUsage()}, pruned: ${await cache.prune()}`);
await cache.close();
