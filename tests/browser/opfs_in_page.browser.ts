/**
 * The library itself on Chromium's real OPFS (the built `fscache.js`, imported by a
 * page): file-system errors mapped from the real DOMExceptions, and a sync from a
 * directory handle (empty directories included) whose checksum equals the CLI's.
 * Node only (Playwright drives it).
 */
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { cli } from "../_cli.ts";
import { type Chromium, startChromium } from "./_chromium.ts";

/** Opens a page of the served origin with the built library as `globalThis.fscache`. */
async function libraryPage(browser: Chromium): Promise<Page> {
  const page = await browser.context.newPage();
  await page.goto(`${browser.base}/fscache.js`); // any page of the origin will do
  await page.addScriptTag({ type: "module", content: 'import * as m from "/fscache.js"; globalThis.fscache = m;' });
  await page.waitForFunction(() => "fscache" in globalThis);
  return page;
}

describe("the library on Chromium's OPFS", () => {
  let browser: Chromium;

  before(async () => {
    browser = await startChromium();
  });

  after(async () => {
    await browser?.close();
  });

  it("maps OPFS errors to errno codes and refuses what OPFS cannot hold", async () => {
    const page = await libraryPage(browser);
    const result = await page.evaluate(async () => {
      // biome-ignore lint/suspicious/noExplicitAny: the bundle's exports, untyped in the page
      const { OpfsFileSystem } = (globalThis as any).fscache;
      const fs = new OpfsFileSystem(
        (await navigator.storage.getDirectory()).getDirectoryHandle("fs-test", { create: true }),
      );
      const code = async (f: () => Promise<unknown>) => {
        try {
          await f();
          return "ok";
        } catch (err) {
          return (err as { code?: string }).code ?? String(err);
        }
      };
      await fs.mkdir("/a/b", { recursive: true });
      await fs.writeFile("/a/b/x.txt", "hello");
      const out: Record<string, unknown> = {
        read: await fs.readFile("/a/b/x.txt", "utf8"),
        mode: (await fs.lstat("/a/b/x.txt")).mode,
        dirMode: (await fs.lstat("/a")).mode,
        missing: await code(() => fs.lstat("/a/nope")),
        notDir: await code(() => fs.readdir("/a/b/x.txt")),
        notDirParent: await code(() => fs.lstat("/a/b/x.txt/y")),
        exists: await code(() => fs.mkdir("/a")),
        noParent: await code(() => fs.writeFile("/missing/x", "x")),
        rmDir: await code(() => fs.rm("/a")),
        rmdirFull: await code(() => fs.rmdir("/a")),
        unlinkDir: await code(() => fs.unlink("/a")),
        symlink: await code(() => fs.symlink("x.txt", "/a/l")),
        chmod: await code(() => fs.chmod("/a/b/x.txt", 0o755)),
        utimes: await code(() => fs.utimes("/a/b/x.txt", 0, 0)),
        sync: await code(async () => fs.readdirSync("/a")),
      };
      await fs.rename("/a/b", "/a/c");
      await fs.copyFile("/a/c/x.txt", "/a/y.txt");
      await fs.unlink("/a/c/x.txt");
      await fs.rmdir("/a/c");
      out.afterMoves = await fs.readdir("/a");
      await fs.rm("/a", { recursive: true });
      out.force = await code(() => fs.rm("/a", { force: true }));
      out.empty = await fs.readdir("/");
      return out;
    });
    assert.deepEqual(result, {
      read: "hello",
      mode: 0o100644,
      dirMode: 0o040755,
      missing: "ENOENT",
      notDir: "ENOTDIR",
      notDirParent: "ENOTDIR",
      exists: "EEXIST",
      noParent: "ENOENT",
      rmDir: "EISDIR",
      rmdirFull: "ENOTEMPTY",
      unlinkDir: "EISDIR",
      symlink: "ENOTSUP",
      chmod: "ENOTSUP",
      utimes: "ENOTSUP",
      sync: "ERR_SYNC_UNSUPPORTED",
      afterMoves: ["y.txt"],
      force: "ok",
      empty: [],
    });
  });

  it("syncs from a directory handle with the CLI's checksum, empty directories included", async () => {
    const files = { "a.txt": "alpha\n", "docs/guide.md": "# guide\n", "docs/img/logo.svg": "<svg/>\n" };
    const emptyDirs = ["empty", "docs/empty"];
    const folder = join(browser.tempDir(), "tree");
    for (const [path, content] of Object.entries(files)) {
      nodeFs.mkdirSync(join(folder, path, ".."), { recursive: true });
      nodeFs.writeFileSync(join(folder, path), content);
      nodeFs.chmodSync(join(folder, path), 0o644);
    }
    for (const d of emptyDirs) nodeFs.mkdirSync(join(folder, d), { recursive: true });
    for (const d of ["", "docs", "docs/img", ...emptyDirs]) nodeFs.chmodSync(join(folder, d), 0o755);
    const out = await cli(["checksum", "--json", folder]);
    assert.equal(out.code, 0, out.stderr);
    const expected = JSON.parse(out.stdout).checksum as string;

    const page = await libraryPage(browser);
    const owner = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    const result = await page.evaluate(
      async ({ files, emptyDirs, owner }) => {
        // biome-ignore lint/suspicious/noExplicitAny: the bundle's exports, untyped in the page
        const m = (globalThis as any).fscache;
        const opfs = await navigator.storage.getDirectory();
        // The "picked" folder: a directory handle, built in OPFS for the test.
        const picked = await opfs.getDirectoryHandle("picked", { create: true });
        const source = new m.OpfsFileSystem(picked);
        for (const [path, content] of Object.entries(files)) {
          await source.mkdir(`/${path}/..`, { recursive: true });
          await source.writeFile(`/${path}`, content);
        }
        for (const d of emptyDirs) await source.mkdir(`/${d}`, { recursive: true });
        const cache = await m.FSCache.open({
          backend: new m.OpfsBackend({ root: "/handle-test/snapshots", ...owner }),
          metaStore: new m.IdbMetaStore({ dbName: "fscache-handle-test" }),
          gcInterval: 0,
        });
        cache.registerTransport("folder", new m.BrowserFolderTransport(picked));
        cache.registerTransport("mem", new m.MemoryTransport({ "x/": { "y.txt": "y" } }));
        const src = await cache.syncFrom({ key: "h1", sharedKey: "picked", transport: "folder" });
        const checksum = await src.hash(".");
        const emptyHash = await src.hash("docs/empty");
        await src.close();
        const mem = await cache.syncFrom({ key: "m1", transport: "mem" });
        const memText = await mem.fs.readFile(`${mem.root}/x/y.txt`, "utf8");
        await mem.close();
        const sizes = (await cache.sources()).map((s: { key: string; size: number }) => [s.key, s.size]);
        await cache.close();
        return { checksum, emptyHash, memText, sizes };
      },
      { files, emptyDirs, owner },
    );
    assert.equal(result.checksum, expected);
    assert.match(result.emptyHash, /^dir:[0-9a-f]{64}$/);
    assert.equal(result.memText, "y");
    assert.deepEqual(
      result.sizes.sort(),
      [
        ["h1", 6 + 8 + 7],
        ["m1", 1],
      ].sort(),
    );
  });
});
