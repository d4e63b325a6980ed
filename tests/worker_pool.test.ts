/** The worker pool hot loops run in: results, errors with codes, spreading work, not holding the process. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { siblingModule, WorkerPool } from "../backends/worker_pool.ts";

const url = siblingModule(
  new URL("./fixtures/", import.meta.url).href + (import.meta.url.endsWith(".ts") ? "a.ts" : "a.js"),
  "echo_worker",
);

describe("WorkerPool", () => {
  it("returns results and keeps error code and path", async () => {
    const pool = new WorkerPool(url, 2);
    try {
      assert.equal(((await pool.run({ value: 7 })) as { echo: number }).echo, 7);
      await assert.rejects(pool.run({ op: "fail" }), { message: "boom", code: "EBOOM", path: "/p" });
    } finally {
      await pool.close();
    }
  });

  it("keeps tasks pinned to one worker there, however many are queued", async () => {
    const pool = new WorkerPool(url, 2);
    try {
      const pinned = await Promise.all(
        [1, 2, 3].map(() => pool.run<{ threadId: number }>({ op: "sleep", ms: 20 }, [], 0)),
      );
      assert.equal(new Set(pinned.map((r) => r.threadId)).size, 1);
      // Worker 1 is another thread; a number past the pool's size means its last worker.
      const other = await pool.run<{ threadId: number }>({ op: "sleep", ms: 0 }, [], 1);
      const last = await pool.run<{ threadId: number }>({ op: "sleep", ms: 0 }, [], 5);
      assert.notEqual(other.threadId, pinned[0]?.threadId);
      assert.equal(last.threadId, other.threadId);
    } finally {
      await pool.close();
    }
  });

  it("close() settles when its workers are stopped while still starting", { timeout: 20_000 }, async () => {
    for (let i = 0; i < 5; i++) {
      const pool = new WorkerPool(url, 2);
      pool.start();
      const task = pool.run({ op: "sleep", ms: 1 }, [], 1);
      await pool.close();
      await assert.rejects(task, /closed/);
    }
  });

  it("spreads concurrent tasks over its workers", async () => {
    const pool = new WorkerPool(url, 2);
    try {
      const results = await Promise.all(
        [1, 2, 3, 4].map(() => pool.run<{ threadId: number }>({ op: "sleep", ms: 30 })),
      );
      assert.equal(new Set(results.map((r) => r.threadId)).size, 2);
    } finally {
      await pool.close();
    }
  });
});
