/**
 * `npm run kills [-- --seed N --sync N --serve N]`: SIGKILLs the real CLI (default 80 sync
 * and 40 serve kills), checks after every kill, prints a line per round, and writes
 * docs/results/kills.json. Exits 1 if any check failed. Reproduce a run with its seed.
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { runKills } from "./kill_runner.ts";
import { writeResults } from "./results.ts";

const { values } = parseArgs({
  options: {
    seed: { type: "string", default: "1" },
    sync: { type: "string", default: "80" },
    serve: { type: "string", default: "40" },
  },
});
const seed = Number(values.seed);
const report = await runKills({
  seed,
  syncKills: Number(values.sync),
  serveKills: Number(values.serve),
  log: (line) => console.log(line),
});
const failed = report.failures.length + report.dataLost.length;
for (const line of [...report.failures, ...report.dataLost]) console.error(line);
writeResults("kills", {
  title: "SIGKILL of the real CLI",
  command: `npm run kills -- --seed ${seed} --sync ${values.sync} --serve ${values.serve}`,
  rows: [
    ["kills of fscache sync", report.syncKills],
    ["kills of fscache serve under pushes", report.serveKills],
    ["victims that finished before their kill (checked, not counted)", report.finishedFirst],
    ["kills that left a stale snapshot (died mid-transfer)", report.staleAfterKill],
    ["pushes cut by their server's death", report.pushesInterrupted],
    ["acknowledged syncs/pushes checked after the kill", report.acknowledgedChecked],
    ["snapshots verified equal to their source", report.verified],
    ["commands failing after a kill", report.failures.length],
    ["data lost", report.dataLost.length],
    ["duration (s)", Math.round(report.durationMs / 100) / 10],
  ],
});
console.log(`${report.syncKills + report.serveKills} kills, ${failed} problem(s)`);
process.exitCode = failed === 0 ? 0 : 1;
