/**
 * Syncing a picked folder in Chromium (the example page: OPFS + IndexedDB, WebAssembly
 * SHA-256, awaited file calls) against `fscache sync` (the built CLI: disk, node:crypto)
 * for the same folder, first sync and a no-change re-sync, in the same run.
 * Needs `npm run build && npm run build:browser` and Debian's chromium.
 *
 *   npm run bench:browser
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { root, startChromium } from "../tests/browser/_chromium.ts";

const FILES = Number(process.env.BENCH_FILES ?? 2000);
const BYTES = Number(process.env.BENCH_BYTES ?? 32 * 1024);

function makeFolder(): string {
  const dir = join(mkdtempSync(join(tmpdir(), "fscache-bench-")), "tree");
  for (let i = 0; i < FILES; i++) {
    const sub = join(dir, `d${i % 40}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `f${i}.bin`), new Uint8Array(BYTES).fill(i % 251));
  }
  return dir;
}

function cliSync(folder: string, cacheRoot: string): number {
  const out = execFileSync("node", [join(root, "dist/cli/bin.cjs"), "--root", cacheRoot, "--json", "sync", folder], {
    encoding: "utf8",
  });
  return JSON.parse(out).durationMs as number;
}

const folder = makeFolder();
const cacheRoot = mkdtempSync(join(tmpdir(), "fscache-bench-"));
const browser = await startChromium();
try {
  const page = await browser.context.newPage();
  await page.goto(`${browser.base}/index.html`);
  await page.waitForFunction(() => Number(document.body.dataset.done ?? 0) >= 1);
  const browserSync = async (n: number): Promise<number> => {
    await page.setInputFiles("#folder", folder);
    await page.waitForFunction((k) => Number(document.body.dataset.done ?? 0) >= k, n, { timeout: 600_000 });
    const status = (await page.textContent("#status")) ?? "";
    const ms = /in (\d+) ms/.exec(status);
    if (!ms) throw new Error(`page: ${status}`);
    return Number(ms[1]);
  };
  const rows = [
    ["first sync", await browserSync(2), cliSync(folder, cacheRoot)],
    ["re-sync, no change", await browserSync(3), cliSync(folder, cacheRoot)],
  ] as const;
  const mib = ((FILES * BYTES) / 1024 / 1024).toFixed(1);
  console.log(`${FILES} files, ${mib} MiB`);
  console.log("| case | Chromium page (OPFS) | fscache sync (disk) | ratio |");
  console.log("|---|---|---|---|");
  for (const [name, page, disk] of rows) {
    console.log(`| ${name} | ${page} ms | ${disk} ms | ${(page / disk).toFixed(2)}× |`);
  }
} finally {
  await browser.close();
  rmSync(join(folder, ".."), { recursive: true, force: true });
  rmSync(cacheRoot, { recursive: true, force: true });
}
