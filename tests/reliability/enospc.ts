/**
 * `npm run enospc`: the full-disk scenarios of enospc_runner.ts (needs root to mount a
 * tmpfs), written to docs/results/enospc.json. Exits 1 if a check failed.
 * @module
 */
import process from "node:process";
import { cannotMount, runEnospc } from "./enospc_runner.ts";
import { writeResults } from "./results.ts";

const reason = cannotMount();
if (reason) {
  console.error(`cannot run: ${reason}`);
  process.exit(1);
}
const report = await runEnospc();
for (const line of report.dataLost) console.error(line);
const code = (line: string) => /: (E[A-Z_]+):/.exec(line)?.[1] ?? line;
writeResults("enospc", {
  title: "A full disk under the cache (16 MiB tmpfs)",
  command: "npm run enospc",
  rows: [
    ["sync needing 12 MiB of the 10 MiB left fails with", code(report.syncError)],
    ["push into the full disk fails with", code(report.pushError)],
    ["bytes freed by fscache prune", report.freed],
    ["snapshots verified equal to their source (before and after)", report.verified],
    ["data lost", report.dataLost.length],
  ],
});
console.log(`sync: ${report.syncError}\npush: ${report.pushError}`);
process.exitCode = report.dataLost.length === 0 ? 0 : 1;
