/** The browser entry bundles for a browser with no `node:` module left in it. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { build } from "esbuild";
import { projectRoot } from "./_helpers.ts";

const root = projectRoot();
/** As `npm run build:browser`: the `.dockerignore` matcher's `path` import gets a POSIX shim. */
const alias = { path: "./transports/websocket/posix_path.ts" };

/** Bundles `entry` as the browser build does; esbuild fails on a `node:` import it cannot resolve there. */
async function bundle(entry: string) {
  return await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    metafile: true,
    logLevel: "silent",
    absWorkingDir: root,
    alias,
  });
}

describe("browser bundle", () => {
  it("browser.ts and the example page reach no node: module", async () => {
    for (const entry of ["browser.ts", "examples/browser/app.ts"]) {
      const result = await bundle(entry);
      const inputs = Object.keys(result.metafile.inputs);
      assert.ok(
        inputs.some((p) => p.endsWith("backends/opfs_backend.ts")),
        `${entry}: ${inputs.join(", ")}`,
      );
      assert.deepEqual(
        inputs.filter((p) => p.startsWith("node:") || p.includes("/node_modules/memfs/")),
        [],
      );
      const text = result.outputFiles.map((f) => f.text).join("\n");
      assert.doesNotMatch(text, /(from|import|require)\s*\(?\s*["']node:/);
    }
  });

  it("the package's ./browser export (the built dist/browser.js) bundles for a browser too", async () => {
    // As a user's bundler sees it: by the package name, through package.json "exports".
    const result = await build({
      stdin: { contents: 'export * from "@fscache/core/browser";', resolveDir: root, loader: "js" },
      bundle: true,
      format: "esm",
      platform: "browser",
      write: false,
      metafile: true,
      logLevel: "silent",
      absWorkingDir: root,
      alias,
    });
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(inputs.includes("dist/browser.js"), inputs.join(", "));
    assert.deepEqual(
      inputs.filter((p) => p.startsWith("node:")),
      [],
    );
  });

  it("would fail on a node: import (the check is not vacuous)", async () => {
    await assert.rejects(bundle("mod.ts"), /node:/);
  });
});
