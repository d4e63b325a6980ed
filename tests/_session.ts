/** Helpers of the session tests: a disk cache with a session server in a temp dir. */
import { FSCache } from "../mod.ts";
import { SessionServer, type SessionServerOptions } from "../transports/session/server.ts";
import { disk, tempDir } from "./_diffcopy.ts";
import { recordingLogger } from "./_helpers.ts";

/** A temp dir with `src/` to push from and a cache under `cache/` served by a SessionServer. */
export async function sessionFixture(options: SessionServerOptions = {}): Promise<{
  dir: string;
  src: string;
  cache: FSCache;
  server: SessionServer;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const tmp = tempDir();
  const src = `${tmp.dir}/src`;
  disk.mkdirSync(src);
  const cache = await FSCache.open({ root: `${tmp.dir}/cache`, gcInterval: 0, logger: recordingLogger() });
  const server = new SessionServer(cache, options);
  return {
    dir: tmp.dir,
    src,
    cache,
    server,
    async [Symbol.asyncDispose]() {
      await server.close({ abort: true });
      await cache.close();
      tmp[Symbol.dispose]();
    },
  };
}

/** The snapshot directory the cache holds for `key`. */
export async function snapshotOf(cache: FSCache, key: string): Promise<string> {
  const source = await cache.get(key);
  if (!source) throw new Error(`nothing cached under ${key}`);
  await source.close();
  return source.root;
}
