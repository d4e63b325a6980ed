/**
 * `npm run fuzz`: every property of tests/_fuzz_properties.ts at full size (at least
 * 10,000 cases in all), figures in docs/results/fuzz.json. Exits non-zero on a failure.
 *
 * Environment: FSCACHE_FUZZ_PER_WEIGHT (cases per unit of weight, default 1000),
 * FSCACHE_FUZZ_SEED (fast-check seed, default: fresh, printed so a failure can be replayed).
 */
import { writeFileSync } from "node:fs";
import process from "node:process";
import { fuzzProperties } from "../_fuzz_properties.ts";
import { projectRoot } from "../_helpers.ts";

const perWeight = Number(process.env.FSCACHE_FUZZ_PER_WEIGHT ?? 1000);
const seed = Number(process.env.FSCACHE_FUZZ_SEED ?? Date.now() % 2 ** 31);
console.log(`seed ${seed} (FSCACHE_FUZZ_SEED=${seed} replays this run)`);
const rows: [string, number | string][] = [];
let total = 0;
let failed = 0;
const started = Date.now();
for (const property of fuzzProperties) {
  const runs = Math.max(10, Math.round(property.weight * perWeight));
  const t = Date.now();
  try {
    await property.run(runs, seed);
    console.log(`ok   ${runs} cases, ${Date.now() - t} ms: ${property.name}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${property.name}\n${String((err as Error).message).slice(0, 4000)}`);
  }
  rows.push([property.name, runs]);
  total += runs;
}
rows.push(["cases in all", total], ["properties failed", failed], ["seed", seed]);
rows.push(["seconds", Math.round((Date.now() - started) / 1000)]);
const result = { title: "Fuzzing hostile input", command: "npm run fuzz", date: new Date().toISOString(), rows };
writeFileSync(`${projectRoot()}/docs/results/fuzz.json`, `${JSON.stringify(result, null, 2)}\n`);
console.log(`${total} cases, ${failed} propert${failed === 1 ? "y" : "ies"} failed`);
if (failed > 0) process.exit(1);
