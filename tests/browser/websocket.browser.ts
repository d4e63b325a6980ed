/**
 * The example page against a real `fscache serve` (the CLI in a child process, a free
 * port, a token) over WebSocket, in Debian's Chromium: push a picked folder and compare
 * the server's checksum with `fscache checksum` of that folder; pull a source the CLI
 * pushed into the page's OPFS cache and compare again; a wrong token fails on both ends.
 * Takes the docs' screenshot (see `saveScreenshot`). Runs under Node only.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import * as nodeFs from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { cli } from "../_cli.ts";
import { spawnCli } from "../_processes.ts";
import { type Chromium, cliChecksum, saveScreenshot, settled, startChromium, writeTree } from "./_chromium.ts";

interface Server {
  child: ChildProcess;
  port: number;
  /** Everything the server printed on stderr so far (a line per session). */
  log(): string;
  stop(): Promise<number | null>;
}

async function startServer(cacheRoot: string, tokenFile: string): Promise<Server> {
  const peer = spawnCli(["--root", cacheRoot, "serve", "--listen", "127.0.0.1:0", "--token-file", tokenFile]);
  let stderr = "";
  peer.child.stderr?.on("data", (d) => {
    stderr += String(d);
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    peer.child.stdout?.on("data", (d) => {
      out += String(d);
      const match = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    peer.child.once("close", (code) => reject(new Error(`fscache serve exited with ${code}: ${stderr}`)));
  });
  return {
    child: peer.child,
    port,
    log: () => stderr,
    async stop() {
      peer.child.kill("SIGTERM");
      return (await peer.exit).code;
    },
  };
}

/** Waits until the server has logged a line matching `pattern`. */
async function logged(server: Server, pattern: RegExp): Promise<RegExpExecArray> {
  for (let i = 0; i < 200; i++) {
    const match = pattern.exec(server.log());
    if (match) return match;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the server never logged ${pattern}: ${server.log()}`);
}

describe("the example page with fscache serve over WebSocket", () => {
  let browser: Chromium;
  let server: Server;
  let tokenFile: string;
  const problems: string[] = [];

  before(async () => {
    browser = await startChromium();
    const dir = browser.tempDir();
    tokenFile = join(dir, "token");
    nodeFs.writeFileSync(tokenFile, `${crypto.randomUUID()}\n`);
    server = await startServer(join(dir, "server-cache"), tokenFile);
  });

  after(async () => {
    if (server) assert.equal(await server.stop(), 0, server.log());
    await browser?.close();
  });

  it("pushes a picked folder, pulls a source into OPFS; a wrong token is refused", async () => {
    const { context, base, tempDir } = browser;
    const page: Page = await context.newPage();
    page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    const url = `ws://127.0.0.1:${server.port}/`;
    await page.goto(`${base}/index.html?uid=${uid}&gid=${gid}&server=${encodeURIComponent(url)}`);
    await settled(page, 1);
    const token = nodeFs.readFileSync(tokenFile, "utf8").trim();
    await page.fill("#token", token);

    const folder = join(tempDir(), "webapp");
    writeTree(folder, {
      "index.html": "<h1>hi</h1>\n",
      "src/app.ts": "export const x = 1;\n",
      "src/assets/logo.bin": new Uint8Array(300 * 1024).map((_, i) => (i * 13) % 251),
      "empty.txt": "",
    });
    const expected = await cliChecksum(folder);
    await page.setInputFiles("#folder", folder);
    await settled(page, 2);
    assert.equal(await page.textContent("#checksum"), expected);

    // Push: the server's own log line names the key and the checksum of its snapshot.
    await page.click("#push");
    await settled(page, 3);
    const pushed = page.locator("#push-result");
    const key = (await pushed.getAttribute("data-key")) as string;
    assert.match(key, /^push-/);
    assert.equal(await pushed.getAttribute("data-checksum"), expected);
    const line = await logged(server, new RegExp(`session key=${key}: 6 added.*(dir:[0-9a-f]{64})`));
    assert.equal(line[1], expected, "the server's snapshot has the CLI's checksum");
    assert.match((await page.textContent("#status")) ?? "", /pushed webapp: 6 added, 0 modified, 0 deleted/);

    // Pull: a tree the CLI pushed, into the page's OPFS cache, same checksum as the CLI's.
    const other = join(tempDir(), "lib");
    writeTree(other, { "README.md": "# lib\n", "lib/index.js": "module.exports = 42;\n" });
    const otherSum = await cliChecksum(other);
    const push = await cli([
      "push",
      other,
      "--to",
      `127.0.0.1:${server.port}`,
      "--key",
      "lib-1",
      "--token-file",
      tokenFile,
    ]);
    assert.equal(push.code, 0, push.stderr);
    await page.fill("#pull-key", "lib-1");
    await page.click("#pull");
    await settled(page, 4);
    const pulled = page.locator("#pull-result");
    assert.equal(await pulled.getAttribute("data-checksum"), otherSum);
    assert.equal(await pulled.getAttribute("data-server-checksum"), otherSum);
    assert.match((await page.textContent("#status")) ?? "", /pulled lib-1: 2 files, 27 bytes received/);
    await logged(server, /pull key=lib-1: 2 files/);
    const rows = await page.$$eval("#sources tr[data-key]", (trs) => trs.map((r) => (r as HTMLElement).dataset.key));
    assert.ok(rows.includes("lib-1"), `sources: ${rows.join(", ")}`);

    const shot = await saveScreenshot(page, tempDir());
    assert.ok(nodeFs.statSync(shot).size > 10_000, "the screenshot is suspiciously small");

    // Still there after a reload: OPFS + IndexedDB.
    await page.reload();
    await settled(page, 1);
    const checksums = await page.$$eval("#sources tr[data-key='lib-1'] .checksum", (cells) =>
      cells.map((c) => c.textContent),
    );
    assert.deepEqual(checksums, [otherSum]);

    // A wrong token: the page shows the server's refusal, the server logs it.
    await page.fill("#token", "not-the-token");
    await page.fill("#pull-key", "lib-1-again");
    await page.click("#pull");
    await page.waitForFunction(() => Number(document.body.dataset.done) >= 2);
    assert.match((await page.textContent("#status")) ?? "", /server: invalid or missing token/);
    assert.equal(await page.getAttribute("#status", "class"), "error");
    await logged(server, /session failed key=lib-1-again: ERR_AUTH: invalid or missing token/);
    await page.setInputFiles("#folder", folder);
    await page.waitForFunction(() => Number(document.body.dataset.done) >= 3);
    await page.click("#push");
    await page.waitForFunction(() => Number(document.body.dataset.done) >= 4);
    assert.match((await page.textContent("#status")) ?? "", /server: invalid or missing token/);
    await logged(server, /session failed key=push-[0-9a-f-]+: ERR_AUTH: invalid or missing token/);
    assert.deepEqual(problems, []);
  });
});
