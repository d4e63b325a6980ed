/**
 * `npm run soak [-- --seed N --clients N --rounds N]`: one `fscache serve`, 16 concurrent
 * `fscache push` processes, 30 rounds (see soak_runner.ts); prints a line per round and
 * writes docs/results/soak.json. Exits 1 if any check failed.
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { writeResults } from "./results.ts";
import { runSoak } from "./soak_runner.ts";

const { values } = parseArgs({
  options: {
    seed: { type: "string", default: "1" },
    clients: { type: "string", default: "16" },
    rounds: { type: "string", default: "30" },
  },
});
const report = await runSoak({
  seed: Number(values.seed),
  clients: Number(values.clients),
  rounds: Number(values.rounds),
  log: (line) => console.log(line),
});
for (const line of [...report.failures, ...report.dataLost]) console.error(line);
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
writeResults("soak", {
  title: `Soak: one server, ${report.clients} concurrent clients, ${report.rounds} rounds`,
  command: `npm run soak -- --seed ${values.seed} --clients ${values.clients} --rounds ${values.rounds}`,
  rows: [
    ["pushes (each checksum equal to the source's)", report.pushes],
    ["GC budget (serve --max-size, bytes)", report.gcBudget],
    ["snapshots created / left at the end (GC collected the rest)", `${report.snapshotsSeen} / ${report.snapshotsEnd}`],
    ["server RSS start / peak / end", `${mib(report.rss.start)} / ${mib(report.rss.peak)} / ${mib(report.rss.end)}`],
    [
      "server fds listening / after round 1 / end",
      `${report.fds.start} / ${report.fds.afterFirstRound} / ${report.fds.end}`,
    ],
    ["last snapshots verified equal to their source", `${report.verified} of ${report.clients}`],
    ["failed pushes or commands", report.failures.length],
    ["data lost", report.dataLost.length],
    ["duration (s)", Math.round(report.durationMs / 100) / 10],
  ],
});
console.log(
  `${report.pushes} pushes, RSS ${mib(report.rss.start)} → peak ${mib(report.rss.peak)} → ${mib(report.rss.end)}, ` +
    `fds ${report.fds.start} → ${report.fds.end}, ${report.failures.length + report.dataLost.length} problem(s)`,
);
process.exitCode = report.failures.length + report.dataLost.length === 0 ? 0 : 1;
