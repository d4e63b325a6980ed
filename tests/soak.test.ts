/** A tiny run of the soak (`npm run soak`), so the script cannot rot: see tests/reliability/soak_runner.ts. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runSoak } from "./reliability/soak_runner.ts";

describe("soak, tiny", () => {
  it("2 clients × 2 rounds against one server: pushes verify, fds do not grow, RSS is sampled", {
    timeout: 300_000,
  }, async () => {
    const report = await runSoak({ seed: 3, clients: 2, rounds: 2 });
    assert.deepEqual(report.failures, []);
    assert.deepEqual(report.dataLost, []);
    assert.equal(report.pushes, 4);
    assert.equal(report.verified, 2);
    assert.ok(report.fds.start > 0 && report.fds.end <= report.fds.afterFirstRound, JSON.stringify(report.fds));
    assert.ok(report.rss.start > 0 && report.rss.peak >= report.rss.end, JSON.stringify(report.rss));
    assert.ok(report.snapshotsSeen >= 2, `snapshots seen: ${report.snapshotsSeen}`);
  });
});
