/**
 * `npm run faults`: the fault campaign at full size — many seeded runs over memory and
 * over the real disk — and its figures in docs/results/faults.json. Exits non-zero if
 * any run lost data, hung, leaked, or failed with an error that has no code.
 *
 * Environment: FSCACHE_FAULT_RUNS (memory runs, default 120; disk runs are a tenth),
 * FSCACHE_FAULT_ROUNDS (rounds per run, default 40), FSCACHE_FAULT_SEED (first seed, default 1).
 */
import { writeFileSync } from "node:fs";
import process from "node:process";
import { emptyStats, runCampaign } from "../_fault_campaign.ts";
import { projectRoot } from "../_helpers.ts";

const runs = Number(process.env.FSCACHE_FAULT_RUNS ?? 120);
const rounds = Number(process.env.FSCACHE_FAULT_ROUNDS ?? 40);
const first = Number(process.env.FSCACHE_FAULT_SEED ?? 1);
const plan: { medium: "memory" | "disk"; seed: number; rate: number }[] = [];
for (let i = 0; i < runs; i++)
  plan.push({ medium: "memory", seed: first + i, rate: [0.005, 0.02, 0.05][i % 3] as number });
for (let i = 0; i < Math.max(1, Math.floor(runs / 10)); i++) plan.push({ medium: "disk", seed: first + i, rate: 0.02 });

const { unclear: _u, hangs: _h, dataLost: _d, leaks: _l, ...counts } = emptyStats();
const total = { ...counts, problems: [] as string[] };
let dataLost = 0;
let unclear = 0;
const started = Date.now();
for (const [i, run] of plan.entries()) {
  const stats = await runCampaign({ ...run, rounds });
  for (const key of Object.keys(total) as (keyof typeof total)[]) {
    if (key !== "problems") total[key] += stats[key];
  }
  dataLost += stats.dataLost.length;
  unclear += stats.unclear.length;
  const problems = [...stats.dataLost, ...stats.hangs, ...stats.leaks, ...stats.unclear];
  for (const p of problems) total.problems.push(`${run.medium} seed ${run.seed}: ${p}`);
  if (problems.length > 0 || (i + 1) % 20 === 0) {
    console.log(`${i + 1}/${plan.length} runs, ${total.faultsInjected} faults, ${total.problems.length} problem(s)`);
    for (const p of problems) console.log(`  ${run.medium} seed ${run.seed}: ${p}`);
  }
}

const seconds = Math.round((Date.now() - started) / 1000);
const result = {
  title: "Fault injection",
  command: "npm run faults",
  date: new Date().toISOString(),
  rows: [
    ["runs (memory + disk, seeded)", plan.length],
    ["faults injected (EIO, ENOSPC, EACCES, EMFILE)", total.faultsInjected],
    ["file-system and store calls seen", total.calls],
    ["connections and uploads cut", total.connectionsCut],
    ["operations run", total.operations],
    ["succeeded", total.succeeded],
    ["clear errors (with a code)", total.clearErrors],
    ["errors without a code", unclear],
    ["hangs, leaked references or descriptors", total.problems.length - dataLost - unclear],
    ["snapshots verified (content and hash tree)", total.verified],
    ["stale snapshots repaired after reopen", total.repaired],
    ["data lost", dataLost],
    ["seconds", seconds],
  ],
};
writeFileSync(`${projectRoot()}/docs/results/faults.json`, `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result.rows));
if (total.problems.length > 0) {
  console.error(`${total.problems.length} problem(s):\n${total.problems.slice(0, 50).join("\n")}`);
  process.exit(1);
}
