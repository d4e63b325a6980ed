/** The published package: the README's usage runs from the built `dist/` through the package name. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { it } from "node:test";
import { projectRoot } from "./_helpers.ts";

const script = `
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

it("the usage example runs under Node from the built package, imported by name", () => {
  // Node resolves a package's own name through its "exports" map (self-reference), so
  // this imports exactly what npm users get: dist/mod.js and its declarations' runtime.
  const out = execFileSync("node", ["--input-type=module", "-e", script], { cwd: projectRoot(), encoding: "utf8" });
  assert.deepEqual(JSON.parse(out), { text: "data", usage: 4, pruned: 4 });
});
