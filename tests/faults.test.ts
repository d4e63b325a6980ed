/**
 * The fault campaign (tests/_fault_campaign.ts) at a size for every test run: a few
 * seeded runs over memory and one over the real disk. `npm run faults` runs it at full
 * size and records the figures.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runCampaign } from "./_fault_campaign.ts";

describe("fault injection campaign", () => {
  for (const [medium, seed, rate, rounds] of [
    ["memory", 101, 0.02, 25],
    ["memory", 102, 0.05, 25],
    ["memory", 103, 0.01, 25],
    ["disk", 104, 0.02, 15],
  ] as const) {
    it(`${medium}, seed ${seed}, ${rate * 100}% of calls failing: nothing lost, hung or leaked`, async () => {
      const stats = await runCampaign({ medium, seed, rate, rounds });
      assert.deepEqual(stats.dataLost, []);
      assert.deepEqual(stats.hangs, []);
      assert.deepEqual(stats.leaks, []);
      assert.deepEqual(stats.unclear, []);
      assert.ok(stats.faultsInjected > 0, "faults were injected");
      assert.ok(stats.clearErrors > 0 && stats.succeeded > 0, "some operations failed, some succeeded");
      assert.ok(stats.verified > 0, "snapshots were verified");
    });
  }
});
