/** The README's results section is what `npm run results` renders from docs/results/*.json. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { projectRoot } from "./_helpers.ts";
import { END, readResults, renderResults, replaceSection, START } from "./reliability/results.ts";

describe("README results section", () => {
  it("equals the table rendered from the committed results files (hand edits fail)", () => {
    const readme = readFileSync(`${projectRoot()}/README.md`, "utf8");
    const results = readResults();
    assert.ok(results.length > 0, "docs/results/ has results");
    assert.equal(readme, replaceSection(readme, renderResults(results)), "run `npm run results`");
  });

  it("the kill, full-disk and soak results report data lost as a number (and any other file that has the row)", () => {
    const all = new Map(readResults());
    for (const name of ["enospc.json", "kills.json", "soak.json"]) {
      assert.ok(
        all.get(name)?.rows.some(([label]) => label === "data lost"),
        `${name} has a "data lost" row`,
      );
    }
    for (const [name, r] of all) {
      const lost = r.rows.find(([label]) => label === "data lost");
      if (lost) assert.equal(typeof lost[1], "number", name);
    }
  });

  it("renders unpadded tables and replaces only the marked section", () => {
    const dir = mkdtempSync(join(tmpdir(), "fscache-"));
    try {
      const rows: [string, number | string][] = [
        ["a|b", 1],
        ["data lost", 0],
      ];
      writeFileSync(
        `${dir}/x.json`,
        JSON.stringify({ title: "T", command: "npm run x", date: "2026-01-02T03:04:05Z", rows }),
      );
      const section = renderResults(readResults(dir));
      assert.equal(
        section,
        "**T** — `npm run x`, 2026-01-02 (`docs/results/x.json`)\n\n|figure|value|\n|---|---|\n|a\\|b|1|\n|data lost|0|",
      );
      const readme = `# r\n${START}\nold\n${END}\ntail\n`;
      assert.equal(replaceSection(readme, section), `# r\n${START}\n${section}\n${END}\ntail\n`);
      assert.throws(() => replaceSection("# no markers\n", section), /no <!-- results:start -->/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
