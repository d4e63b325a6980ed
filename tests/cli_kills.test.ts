/**
 * SIGKILL of the real CLI (`fscache sync`, `fscache serve` under `fscache push` clients) at
 * seeded random moments, each kill followed by the checks of tests/reliability/kill_runner.ts.
 * `npm run kills` runs more of them and writes docs/results/kills.json.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runKills } from "./reliability/kill_runner.ts";

// Deno starts a CLI process several times slower than Node: a smaller run of the same code there.
const deno = "Deno" in globalThis;
const SYNC_KILLS = deno ? 6 : 24;
const SERVE_KILLS = deno ? 3 : 10;

describe("the CLI under SIGKILL", () => {
  it(`${SYNC_KILLS} sync and ${SERVE_KILLS} serve kills: ls works, acknowledged work survives, resyncs equal the source`, {
    timeout: 1_200_000,
  }, async () => {
    const report = await runKills({ seed: 0x6b111, syncKills: SYNC_KILLS, serveKills: SERVE_KILLS });
    assert.deepEqual(report.failures, []);
    assert.deepEqual(report.dataLost, []);
    assert.equal(report.syncKills, SYNC_KILLS);
    assert.equal(report.serveKills, SERVE_KILLS);
    // Every kill was followed by at least one verified resync, and some kills caught a transfer.
    assert.ok(report.verified >= SYNC_KILLS + SERVE_KILLS, `verified: ${report.verified}`);
    console.log(
      `kills: ${report.syncKills} sync + ${report.serveKills} serve (${report.finishedFirst} finished first), ` +
        `${report.staleAfterKill} left a stale snapshot, ${report.pushesInterrupted} pushes interrupted, ` +
        `${report.acknowledgedChecked} acknowledged checked, ${report.verified} snapshots verified ` +
        `in ${(report.durationMs / 1000).toFixed(1)} s`,
    );
  });
});
