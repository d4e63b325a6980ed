/**
 * The example page in a real Chromium (Debian's, driven by playwright-core; nothing is
 * downloaded): pick a folder, sync it into OPFS + IndexedDB, compare the checksum with
 * the CLI's for the same files, sync a change, reload (everything still there), `du`,
 * `prune`. Runs under Node only (`npm run test:browser`). The WebSocket test
 * (websocket.browser.ts) takes the docs' screenshot.
 */
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { type Chromium, cliChecksum, settled, startChromium, writeTree } from "./_chromium.ts";

async function sourceRows(page: Page): Promise<{ key: string; size: number; checksum: string }[]> {
  return await page.$$eval("#sources tr[data-key]", (rows) =>
    rows.map((r) => ({
      key: (r as HTMLElement).dataset.key as string,
      size: Number((r as HTMLElement).dataset.size),
      checksum: r.querySelector(".checksum")?.textContent ?? "",
    })),
  );
}

describe("the example page in Chromium", () => {
  let browser: Chromium;
  const problems: string[] = [];

  before(async () => {
    browser = await startChromium();
  });

  after(async () => {
    await browser?.close();
  });

  it("syncs a picked folder with the CLI's checksum, keeps it across reloads, du and prune", async () => {
    const { context, base, tempDir } = browser;
    const page = await context.newPage();
    page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(`console: ${msg.text()}`);
    });
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    await page.goto(`${base}/index.html?uid=${uid}&gid=${gid}`);
    await settled(page, 1);
    assert.deepEqual(await sourceRows(page), []);

    const folder = join(tempDir(), "project");
    const big = new Uint8Array(700 * 1024).map((_, i) => (i * 7) % 256);
    const files: Record<string, string | Uint8Array> = {
      "README.md": "# project\n",
      "src/main.ts": "console.log('hi');\n",
      "src/lib/data.bin": big,
      "src/lib/ünïcode name.txt": "names are UTF-8\n",
      "empty.txt": "",
    };
    writeTree(folder, files);
    const total = 10 + 19 + big.length + 16;

    await page.setInputFiles("#folder", folder);
    await settled(page, 2);
    const expected = await cliChecksum(folder);
    assert.equal(await page.textContent("#checksum"), expected);
    assert.match((await page.textContent("#status")) ?? "", /synced project: 7 added, 0 modified, 0 deleted/);
    let rows = await sourceRows(page);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.size, total);
    assert.equal(rows[0]?.checksum, expected);

    // A second sync of the same folder reuses the snapshot: only the change is copied.
    nodeFs.writeFileSync(join(folder, "src/main.ts"), "console.log('changed');\n");
    await page.setInputFiles("#folder", folder);
    await settled(page, 3);
    const changed = await cliChecksum(folder);
    assert.notEqual(changed, expected);
    assert.equal(await page.textContent("#checksum"), changed);
    assert.match((await page.textContent("#status")) ?? "", /0 added, 1 modified, 0 deleted, 6 unchanged, 24 bytes/);
    rows = await sourceRows(page);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.checksum, changed);
    const key = rows[0]?.key;

    // OPFS and IndexedDB persist: after a reload the source is still listed, same checksum.
    await page.reload();
    await settled(page, 1);
    rows = await sourceRows(page);
    assert.deepEqual(rows, [{ key: key as string, size: total + 5, checksum: changed }]);

    await page.click("#du");
    await settled(page, 2);
    assert.match((await page.textContent("#du-result")) ?? "", new RegExp(`^idle: .*\\(${total + 5} B\\)$`));
    await page.click("#prune");
    await settled(page, 3);
    assert.match((await page.textContent("#du-result")) ?? "", new RegExp(`^pruned: .*\\(${total + 5} B\\)$`));
    assert.deepEqual(await sourceRows(page), []);

    await page.reload();
    await settled(page, 1);
    assert.deepEqual(await sourceRows(page), []);
    const opfsEntries = await page.evaluate(async () => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle("fscache");
      const snapshots = await dir.getDirectoryHandle("snapshots");
      const names: string[] = [];
      for await (const name of (snapshots as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
      return names;
    });
    assert.deepEqual(opfsEntries, []);
    assert.deepEqual(problems, []);
  });
});
