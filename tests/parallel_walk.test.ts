/**
 * The walk of a big source shared between this thread and workers: whatever order the
 * threads finish their runs in, the joined walk is the one a single walk gives, and a
 * failing worker fails the walk.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RecordedTable } from "../core/recorded_table.ts";
import type { Runner } from "../transports/local/local_transport.ts";
import { walkLargeSource, walkSource } from "../transports/local/parallel_walk.ts";
import type { SyncFs } from "../transports/local/sync_fs.ts";
import type { Task } from "../transports/local/tasks.ts";
import { walkTree } from "../transports/local/walk.ts";
import { splitUnits } from "../transports/run_queue.ts";

const disk = fs as unknown as SyncFs;
const SUM = "0".repeat(64);

/** A runner whose "workers" answer after `offloadDelay()` ms (a late-starting thread), this thread after `hereDelay`. */
function fakeRunner(
  threads: number,
  offloadDelay: () => number,
  fail?: string,
  hereDelay = 0,
): Runner & { offloaded: string[][]; here: string[][] } {
  const offloaded: string[][] = [];
  const here: string[][] = [];
  const runHere = (task: Task) =>
    walkTree(disk, (task as { root: string }).root, (task as { options: object }).options);
  return {
    src: disk,
    parallel: threads,
    offloaded,
    here,
    run: async (task) => {
      await new Promise((resolve) => setTimeout(resolve, hereDelay));
      here.push([...((task as { options: { only?: string[] } }).options.only ?? ["(all)"])]);
      return runHere(task);
    },
    offload: async (task) => {
      await new Promise((resolve) => setTimeout(resolve, offloadDelay()));
      const only = (task as { options: { only?: string[] } }).options.only ?? [];
      if (fail !== undefined && only.some((item) => item === fail || item.startsWith(`${fail}/`))) {
        throw Object.assign(new Error(`cannot read ${fail}`), { code: "EIO" });
      }
      offloaded.push([...only]);
      return runHere(task);
    },
  };
}

describe("walkSource shared between threads", () => {
  let root: string;
  let previous: RecordedTable;
  before(() => {
    root = mkdtempSync(join(tmpdir(), "fscache-"));
    // Root names of very different sizes, a file among them, and names that sort around "/".
    const sizes: [string, number][] = [
      ["a", 40],
      ["b-c", 3],
      ["b", 25],
      ["c", 1],
      ["d.txt", 0],
      ["e", 60],
      ["f", 8],
    ];
    for (const [name, files] of sizes) {
      if (files === 0) {
        fs.writeFileSync(join(root, name), "x");
        continue;
      }
      for (let i = 0; i < files; i++) {
        const dir = join(root, name, `sub${i % 4}`);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(join(dir, `f${i}`), String(i));
      }
    }
    const whole = walkTree(disk, root);
    previous = RecordedTable.fromEntries(whole.paths.map((p) => [p, { checksum: SUM }]));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  for (const [threads, label] of [
    [2, "one worker"],
    [3, "two workers"],
  ] as const) {
    for (const [delay, when] of [
      [() => 0, "answering at once"],
      [() => 30, "starting late"],
      [() => Math.floor(Math.random() * 20), "answering in random order"],
    ] as const) {
      it(`with ${label} ${when}, equals a single walk`, async () => {
        const runner = fakeRunner(threads, delay);
        const walked = await walkSource(runner, root, {}, previous, 1);
        const single = walkTree(disk, root);
        assert.deepEqual(walked.paths, single.paths);
        assert.deepEqual(Array.from(walked.stats), Array.from(single.stats));
        assert.deepEqual(walked.links, single.links);
        // Every piece was walked once, by one thread or the other.
        const items = [...runner.here.flat(), ...runner.offloaded.flat()];
        assert.equal(new Set(items).size, items.length);
      });
    }
  }

  it("opens a root directory holding more than a run's part one level down", async () => {
    const runner = fakeRunner(2, () => 0);
    await walkSource(runner, root, {}, previous, 1);
    const items = [...runner.here.flat(), ...runner.offloaded.flat()];
    // "e" holds the most: its own entry, then each child, as pieces of their own.
    assert.ok(items.includes("e/") && items.includes("e/sub0") && !items.includes("e"), items.join(" "));
    assert.ok(items.includes("d.txt") && items.includes("c"));
  });

  it("keeps an excluded directory, or any under `!` exceptions, in one piece", async () => {
    for (const excludes of [["e"], ["*.tmp", "!keep.tmp"]]) {
      const runner = fakeRunner(2, () => 0);
      const walked = await walkSource(runner, root, { excludes }, previous, 1);
      assert.deepEqual(walked.paths, walkTree(disk, root, { excludes }).paths, excludes.join(","));
      const items = [...runner.here.flat(), ...runner.offloaded.flat()];
      assert.ok(!items.some((item) => item.startsWith("e/")), `${excludes}: ${items.join(" ")}`);
    }
  });

  it("below the threshold, walks on this thread only", async () => {
    const runner = fakeRunner(2, () => 0);
    const walked = await walkSource(runner, root, {}, previous, previous.size + 1);
    assert.deepEqual(walked.paths, walkTree(disk, root).paths);
    assert.deepEqual(runner.offloaded, []);
    assert.deepEqual(runner.here, [["(all)"]]);
  });

  it("without a record (a first sync), is shared all the same and equals a single walk", async () => {
    for (const delay of [() => 0, () => Math.floor(Math.random() * 20)]) {
      const runner = fakeRunner(2, delay, undefined, 5);
      const walked = await walkSource(runner, root, {}, undefined);
      assert.deepEqual(walked.paths, walkTree(disk, root).paths);
      assert.deepEqual(Array.from(walked.stats), Array.from(walkTree(disk, root).stats));
      const items = [...runner.here.flat(), ...runner.offloaded.flat()];
      assert.equal(new Set(items).size, items.length);
      // With every name weighing one, the few top directories are opened one level down.
      assert.ok(items.includes("a/") && items.includes("a/sub0"), items.join(" "));
    }
  });

  // A walk that waited would never end: the timeout turns that into a failure.
  it("does not wait for a worker that is still starting when this thread has taken every run", {
    timeout: 10_000,
  }, async () => {
    const runner = fakeRunner(2, () => 0);
    // The worker never comes up: its first (empty) task never answers.
    const offload = runner.offload as NonNullable<Runner["offload"]>;
    runner.offload = (task, worker) => {
      const only = (task as { options: { only?: string[] } }).options.only ?? [];
      return only.length === 0 ? new Promise<never>(() => {}) : offload(task, worker);
    };
    const walked = await walkSource(runner, root, {}, undefined);
    assert.deepEqual(walked.paths, walkTree(disk, root).paths);
    assert.deepEqual(runner.offloaded, []);
  });

  it("a worker's failure fails the walk with its error", async () => {
    // The worker takes runs from the back: "f" (the last name) is the first it is given.
    const runner = fakeRunner(2, () => 0, "f", 20);
    await assert.rejects(walkSource(runner, root, {}, previous, 1), { code: "EIO", message: "cannot read f" });
  });

  it("an early walk hands each worker its first runs before it returns, and equals a single walk", async () => {
    for (const delay of [() => 0, () => 30, () => Math.floor(Math.random() * 20)]) {
      const runner = fakeRunner(3, delay);
      let handed = 0;
      const offload = runner.offload as NonNullable<Runner["offload"]>;
      runner.offload = (task, worker) => {
        handed++;
        return offload(task, worker);
      };
      const walking = walkLargeSource(runner, root, {});
      // Two runs queued on each of the two workers, with no answer awaited: the calling
      // thread is about to be busy decoding the record.
      assert.equal(handed, 4);
      const walked = await walking;
      const single = walkTree(disk, root);
      assert.deepEqual(walked.paths, single.paths);
      assert.deepEqual(Array.from(walked.stats), Array.from(single.stats));
      const items = [...runner.here.flat(), ...runner.offloaded.flat()];
      assert.equal(new Set(items).size, items.length);
      // No empty "are you up" share: the runs themselves wait in the worker's queue.
      assert.ok(runner.offloaded.every((run) => run.length > 0));
    }
  });

  it("an early walk fails with a worker's error", async () => {
    const runner = fakeRunner(2, () => 0, "f", 20);
    await assert.rejects(walkLargeSource(runner, root, {}), { code: "EIO", message: "cannot read f" });
  });
});

describe("splitUnits", () => {
  const units = (n: number, weight = 1): [string, number][] =>
    Array.from({ length: n }, (_, i) => [`u${String(i).padStart(3, "0")}`, weight]);

  it("keeps every unit once, in order, in at most `parts` runs", () => {
    for (const [n, parts] of [
      [0, 4],
      [1, 4],
      [5, 16],
      [100, 16],
      [1000, 7],
    ] as const) {
      for (const tapered of [false, true]) {
        const runs = splitUnits(units(n), parts, tapered);
        assert.ok(runs.length <= Math.max(1, parts), `${n}/${parts}: ${runs.length} runs`);
        assert.deepEqual(
          runs.flat(),
          units(n).map(([item]) => item),
        );
        if (n > 0) assert.ok(runs.every((run) => run.length > 0));
      }
    }
  });

  it("cuts runs of equal weight, or tapered: shortest where the threads meet (the middle)", () => {
    const equal = splitUnits(units(1000), 16).map((run) => run.length);
    assert.equal(equal.length, 16);
    assert.ok(Math.max(...equal) - Math.min(...equal) <= 1, equal.join(" "));
    const runs = splitUnits(units(1000), 16, true);
    const sizes = runs.map((run) => run.length);
    assert.equal(sizes.length, 16);
    const middle = Math.min(sizes[7] as number, sizes[8] as number);
    assert.ok((sizes[0] as number) >= 3 * middle && (sizes[15] as number) >= 3 * middle, sizes.join(" "));
    for (let j = 1; j < 8; j++) assert.ok((sizes[j] as number) <= (sizes[j - 1] as number), sizes.join(" "));
    for (let j = 9; j < 16; j++) assert.ok((sizes[j] as number) >= (sizes[j - 1] as number), sizes.join(" "));
  });

  it("weighs units by their weight, not their count", () => {
    // By count the heavy unit would share the second run; by weight it ends the first.
    const runs = splitUnits(
      [
        ["a", 1],
        ["heavy", 1000],
        ["b", 1],
        ["c", 1],
      ],
      2,
    );
    assert.deepEqual(runs, [
      ["a", "heavy"],
      ["b", "c"],
    ]);
  });
});
