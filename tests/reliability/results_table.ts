/**
 * `npm run results`: rewrites the README's results section from `docs/results/*.json`.
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import { projectRoot } from "../_helpers.ts";
import { readResults, renderResults, replaceSection } from "./results.ts";

const readme = `${projectRoot()}/README.md`;
const results = readResults();
writeFileSync(readme, replaceSection(readFileSync(readme, "utf8"), renderResults(results)));
console.log(`README.md: results of ${results.map(([name]) => name).join(", ")}`);
