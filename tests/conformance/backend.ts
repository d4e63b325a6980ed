/** The Backend conformance suite: every Backend adapter runs exactly these tests. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Backend, FSCacheError } from "../../mod.ts";

/** Registers the suite for one adapter. `make` returns a fresh, empty backend. */
export function testBackend(name: string, make: () => Promise<{ backend: Backend; cleanup?(): Promise<void> }>): void {
  describe(`Backend conformance: ${name}`, () => {
    const withBackend = (fn: (backend: Backend) => Promise<void>) => async () => {
      const { backend, cleanup } = await make();
      try {
        await fn(backend);
      } finally {
        await cleanup?.();
      }
    };

    it(
      "get creates a private directory and returns the same path each time",
      withBackend(async (b) => {
        const dir = await b.get("abc123");
        assert.equal(await b.get("abc123"), dir);
        const st = await b.fs.stat(dir);
        assert.ok(st.isDirectory());
        assert.equal(st.mode & 0o777, 0o700);
      }),
    );

    it(
      "lists the ids present",
      withBackend(async (b) => {
        assert.deepEqual(await b.list(), []);
        await b.get("one");
        await b.get("two");
        assert.deepEqual((await b.list()).sort(), ["one", "two"]);
      }),
    );

    it(
      "remove deletes the whole tree, and is fine when it is already gone",
      withBackend(async (b) => {
        const dir = await b.get("x");
        const other = await b.get("other");
        await b.fs.writeFile(`${other}/keep`, "keep");
        await b.fs.mkdir(`${dir}/a/b`, { recursive: true });
        await b.fs.writeFile(`${dir}/a/b/f`, "data");
        await b.fs.symlink(other, `${dir}/link-to-other`);
        await b.remove("x");
        assert.equal(b.fs.existsSync(dir), false);
        assert.equal(await b.fs.readFile(`${other}/keep`, "utf8"), "keep", "remove must not follow symlinks");
        await b.remove("x");
        assert.deepEqual(await b.list(), ["other"]);
      }),
    );

    it(
      "refuses ids that could name a path outside its root",
      withBackend(async (b) => {
        for (const id of ["..", "../x", "a/b", "", "x\0"]) {
          await assert.rejects(b.get(id), (e) => e instanceof FSCacheError && e.code === "ERR_INVALID_PATH");
        }
      }),
    );
  });
}
