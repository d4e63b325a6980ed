/**
 * Shared set-up of the browser tests: the built `dist/browser/` served from 127.0.0.1,
 * and Debian's Chromium driven by playwright-core (which never downloads a browser),
 * headless, in a fresh persistent profile so OPFS and IndexedDB survive a reload.
 */
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { cli } from "../_cli.ts";
import { projectRoot } from "../_helpers.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const TYPES = new Map([
  [".html", "text/html; charset=utf-8"],
  [".js", "text/javascript; charset=utf-8"],
  [".map", "application/json"],
]);

/** The project's root and the built site in it. */
export const root: string = projectRoot();
const site = join(root, "dist", "browser");

/** A running browser on the served site; `close()` stops both and removes temp dirs. */
export interface Chromium {
  context: BrowserContext;
  /** `http://127.0.0.1:<port>`, serving `dist/browser/`. */
  base: string;
  /** A fresh temp dir, removed by `close()`. */
  tempDir(): string;
  close(): Promise<void>;
}

/** Serves the built site and launches Chromium on it. */
export async function startChromium(): Promise<Chromium> {
  if (!nodeFs.existsSync(join(site, "index.html"))) throw new Error("dist/browser is missing: npm run build:browser");
  const temps: string[] = [];
  const tempDir = (): string => {
    const d = nodeFs.mkdtempSync(join(tmpdir(), "fscache-"));
    temps.push(d);
    return d;
  };
  const server = await serve(site);
  const context = await chromium.launchPersistentContext(tempDir(), {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1100, height: 720 },
  });
  return {
    context,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tempDir,
    async close() {
      await context.close();
      await new Promise((resolve) => server.close(resolve));
      for (const d of temps) nodeFs.rmSync(d, { recursive: true, force: true });
    },
  };
}

/**
 * Screenshots `page` as the docs' artifact: into `docs/browser-example.png` when that is
 * missing or `FSCACHE_UPDATE_SCREENSHOT=1`, else into `tempDir` (so a test run leaves the
 * work tree clean). Returns the file written.
 */
export async function saveScreenshot(page: Page, tempDir: string): Promise<string> {
  const committed = join(root, "docs", "browser-example.png");
  const update = process.env.FSCACHE_UPDATE_SCREENSHOT === "1" || !nodeFs.existsSync(committed);
  const file = update ? committed : join(tempDir, "browser-example.png");
  await page.screenshot({ fullPage: true, path: file });
  return file;
}

/** Writes `files` below `dir` with plain modes (0644 files, 0755 directories). */
export function writeTree(dir: string, files: Record<string, string | Uint8Array>): void {
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    nodeFs.mkdirSync(join(full, ".."), { recursive: true, mode: 0o755 });
    nodeFs.writeFileSync(full, content);
    nodeFs.chmodSync(full, 0o644);
  }
  for (const d of nodeFs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (d.isDirectory()) nodeFs.chmodSync(join(d.parentPath, d.name), 0o755);
  }
}

export async function cliChecksum(dir: string): Promise<string> {
  const out = await cli(["checksum", "--json", dir]);
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout).checksum as string;
}

/** Waits until the page has finished `count` actions, and fails on an error it shows. */
export async function settled(page: Page, count: number): Promise<void> {
  await page.waitForFunction((n) => Number(document.body.dataset.done ?? 0) >= n, count, { timeout: 60_000 });
  const status = page.locator("#status");
  assert.ok(!(await status.getAttribute("class"))?.includes("error"), `page error: ${await status.textContent()}`);
}

function serve(dir: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    const file = join(dir, path === "/" ? "index.html" : path);
    if (!file.startsWith(dir) || !nodeFs.existsSync(file) || !nodeFs.statSync(file).isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": TYPES.get(extname(file)) ?? "application/octet-stream" });
    res.end(nodeFs.readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}
