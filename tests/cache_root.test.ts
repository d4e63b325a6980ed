/**
 * fscache owns its cache root (it removes what it does not recognise there), so a root
 * that is someone else's directory is refused before anything is written into it.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FileMetaStore, FSCache, FSCacheError } from "../mod.ts";
import { tempDir } from "./_diffcopy.ts";

const refused = (code: string, path?: string) => (err: unknown) =>
  err instanceof FSCacheError && err.code === code && (path === undefined || err.path === path);

describe("cache root", () => {
  it("refuses an empty path instead of taking the working directory", async () => {
    await assert.rejects(FSCache.open({ root: "" }), refused("ERR_INVALID_OPTION"));
    assert.throws(() => new FileMetaStore(""), refused("ERR_INVALID_OPTION"));
  });

  it("refuses a directory of other files, and leaves it exactly as it was", async () => {
    using tmp = tempDir();
    const project = join(tmp.dir, "project");
    mkdirSync(join(project, "snapshots", "v1"), { recursive: true });
    writeFileSync(join(project, "snapshots", "v1", "notes.txt"), "mine");
    writeFileSync(join(project, "README"), "hello");
    await assert.rejects(FSCache.open({ root: project, gcInterval: 0 }), refused("ERR_NOT_A_CACHE", project));
    assert.deepEqual(readdirSync(project).sort(), ["README", "snapshots"]);
    assert.equal(readFileSync(join(project, "snapshots", "v1", "notes.txt"), "utf8"), "mine");
  });

  it("refuses a file, naming it", async () => {
    using tmp = tempDir();
    const file = join(tmp.dir, "file");
    writeFileSync(file, "");
    await assert.rejects(FSCache.open({ root: file, gcInterval: 0 }), refused("ENOTDIR", file));
  });

  it("takes a new, an empty, its own, or a tagged root; a tagged root keeps the user's other files", async () => {
    using tmp = tempDir();
    const fresh = join(tmp.dir, "a", "b");
    const empty = join(tmp.dir, "empty");
    mkdirSync(empty);
    for (const root of [fresh, empty, fresh]) {
      const cache = await FSCache.open({ root, gcInterval: 0 });
      await cache.close();
    }
    // A root whose tag was written by fscache stays usable when other files appear in it.
    writeFileSync(join(fresh, "later.txt"), "x");
    mkdirSync(join(fresh, "snapshots", "by-hand"), { recursive: true });
    const cache = await FSCache.open({ root: fresh, gcInterval: 0 });
    await cache.close();
    assert.equal(existsSync(join(fresh, "later.txt")), true);
    assert.equal(existsSync(join(fresh, "snapshots", "by-hand")), true, "only names fscache made are swept");
    // A root left with only a meta directory and a lock (a crash before the tag was written).
    const partial = join(tmp.dir, "partial");
    mkdirSync(join(partial, "meta"), { recursive: true });
    writeFileSync(join(partial, "lock.12.3.tmp"), "");
    await (await FSCache.open({ root: partial, gcInterval: 0 })).close();
    // Another tool's cache tag is not fscache's.
    const other = join(tmp.dir, "other");
    mkdirSync(other);
    writeFileSync(join(other, "CACHEDIR.TAG"), "Signature: 8a477f597d28d172789f06886806bc55\n# made by another tool\n");
    writeFileSync(join(other, "data.bin"), "x");
    await assert.rejects(FSCache.open({ root: other, gcInterval: 0 }), refused("ERR_NOT_A_CACHE", other));
  });

  it("a root that cannot be made fails with the error and the path, and never hangs", async () => {
    // Node's recursive mkdirSync retries for ever below /proc.
    await assert.rejects(FSCache.open({ root: "/proc/no-such-dir/cache", gcInterval: 0 }), (e) => {
      assert.ok(e instanceof FSCacheError);
      assert.equal(e.code, "ENOENT");
      assert.equal(e.path, "/proc/no-such-dir");
      return true;
    });
  });

  it("follows a symlinked root to the cache it names", async () => {
    using tmp = tempDir();
    const real = join(tmp.dir, "real");
    await (await FSCache.open({ root: real, gcInterval: 0 })).close();
    symlinkSync(real, join(tmp.dir, "alias"));
    const cache = await FSCache.open({ root: join(tmp.dir, "alias"), gcInterval: 0 });
    await cache.close();
  });
});
