/**
 * The npm package as a consumer gets it: the README's usage runs from the built `dist/`
 * through the package name; its entries resolve by name (ESM `import`, and `require`
 * where Node can load ES modules that way), and the packed file list holds
 * what the entries and the command load at run time, with the licence, and no tests.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { projectRoot } from "./_helpers.ts";

const root = projectRoot();

const usageScript = `
import { FSCache, MemoryBackend, MemoryMetaStore } from "@fscache/core";
const transport = {
  async copy({ id, dest, fs }) {
    await fs.writeFile(\`\${dest}/\${id.key}\`, String(id.data));
  },
};
const cache = await FSCache.open({
  backend: new MemoryBackend(),
  metaStore: new MemoryMetaStore(),
  gcPolicy: { maxSize: 15, maxKeepDuration: 60 * 60 * 1000 },
});
cache.registerTransport("test", transport);
const src = await cache.syncFrom({ key: "foo", sharedKey: "bar", transport: "test", data: "data" });
const text = await src.fs.readFile(\`\${src.root}/foo\`, "utf8");
await src.close();
console.log(JSON.stringify({ text, usage: await cache.diskUsage(), pruned: await cache.prune() }));
await cache.close();
`;
/** Node itself, also when these tests run under Deno: this is about Node's resolution. */
const node = (code: string, type: "module" | "commonjs") =>
  execFileSync("node", [`--input-type=${type}`, "-e", code], { cwd: root, encoding: "utf8" });

describe("the npm package", () => {
  it("runs the README's usage example from the built package, imported by name", () => {
    // Node resolves a package's own name through its "exports" map (self-reference), so
    // this imports exactly what npm users get: dist/mod.js.
    assert.deepEqual(JSON.parse(node(usageScript, "module")), { text: "data", usage: 4, pruned: 4 });
  });

  it("resolves both entries by name with import", () => {
    const out = node(
      `const main = await import("@fscache/core");
       const browser = await import("@fscache/core/browser");
       console.log(typeof main.FSCache, typeof main.LocalTransport, typeof browser.BrowserFolderTransport);`,
      "module",
    );
    assert.equal(out.trim(), "function function function");
  });

  it("loads with require on a Node that can require ES modules", () => {
    const [major, minor] = (execFileSync("node", ["-p", "process.versions.node"], { encoding: "utf8" }) as string)
      .split(".")
      .map(Number) as [number, number];
    // require() of ES modules: Node 20.19+, 22.12+; older ones fail with ERR_REQUIRE_ESM
    const able = (major === 20 && minor >= 19) || (major === 22 && minor >= 12) || major >= 23;
    const code = `try { console.log(typeof require("@fscache/core").FSCache) } catch (e) { console.log(e.code) }`;
    assert.equal(node(code, "commonjs").trim(), able ? "function" : "ERR_REQUIRE_ESM");
  });

  it("packs the entries, the command and its workers, the licence, and no tests", () => {
    const [pack] = JSON.parse(
      execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, encoding: "utf8" }),
    ) as [{ files: { path: string }[] }];
    const files = new Set(pack.files.map((f) => f.path));
    for (const needed of [
      "LICENSE",
      "README.md",
      "package.json",
      "dist/mod.js",
      "dist/mod.d.ts",
      "dist/browser.js",
      "dist/browser.d.ts",
      "dist/cli/bin.cjs",
      "dist/cli/main.cjs",
      "dist/cli/worker.cjs",
      "dist/cli/scan_worker.cjs",
      "dist/transports/local/worker.js",
      "dist/backends/scan_worker.js",
    ]) {
      assert.ok(files.has(needed), `${needed} is packed`);
    }
    // nor the code caches the bin writes beside the bundle when run from this checkout
    const stray = [...files].filter(
      (f) => /^(tests|bench|examples|\.test-build|docs\/results)\//.test(f) || f.endsWith(".cache"),
    );
    assert.deepEqual(stray, []);
  });
});
