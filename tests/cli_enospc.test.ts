/**
 * A really full disk under the cache (a 16 MiB tmpfs): see tests/reliability/enospc_runner.ts.
 * Mounting needs root; elsewhere the test is skipped with the reason, except under CI
 * (`CI` set), where it must run.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { describe, it } from "node:test";
import { cannotMount, runEnospc } from "./reliability/enospc_runner.ts";

const reason = process.env.CI ? undefined : cannotMount();
if (reason) console.log(`ENOSPC test skipped: ${reason}`);

describe("a full disk under the cache", () => {
  it("sync and push fail with ENOSPC naming the key, nothing else is harmed, freed space lets the next one through", {
    skip: reason ?? false,
    timeout: 120_000,
  }, async () => {
    const report = await runEnospc();
    assert.deepEqual(report.dataLost, []);
    assert.ok(report.verified >= 4, `verified ${report.verified}`);
  });
});
