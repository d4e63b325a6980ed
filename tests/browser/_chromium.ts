/**
 * Shared set-up of the browser tests: the built `dist/browser/` served from 127.0.0.1,
 * and Debian's Chromium driven by playwright-core (which never downloads a browser),
 * headless, in a fresh persistent profile so OPFS and IndexedDB survive a reload.
 */
import * as nodeFs from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
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
