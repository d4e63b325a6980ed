/**
 * STAT numbers without BigInt: a walked stat's time (whole microseconds) and the sizes
 * and device numbers of any stat encode to exactly the bytes the BigInt way gave (Go's
 * int64 varints: negatives in ten bytes, times past int64 held at its ends), and a
 * walked tree's STATs, walked on this thread or in runs elsewhere, decode to the times
 * its lstat read.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as nodeFs from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodePacket, PacketType, packet, stat } from "../transports/diffcopy/packet.ts";
import { encodePacket } from "../transports/diffcopy/packet_encoder.ts";
import { type SourceRunTask, sourceBatches, walkSourceRun } from "../transports/diffcopy/source_runs.ts";
import { type SourceEntry, WalkedStat, walkSource } from "../transports/diffcopy/source_walker.ts";
import { disk, tempDir } from "./_diffcopy.ts";

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** Go's varint of an int64, the BigInt way. */
function goVarint(value: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  for (; v >= 0x80n; v >>= 7n) out.push(Number(v & 0x7fn) | 0x80);
  out.push(Number(v));
  return out;
}

/** The nanoseconds a walked time was sent as before: whole microseconds held within int64. */
function nanos(us: number): bigint {
  const ns = BigInt(us) * 1000n;
  return ns > INT64_MAX ? INT64_MAX : ns < INT64_MIN ? INT64_MIN : ns;
}

/** The STAT packet of a file `f` with these numbers, field by field (zero fields left out). */
function expectedPacket(size: number, ns: bigint, devmajor: number, devminor: number): Uint8Array {
  const body = [0x0a, 1, 0x66];
  if (size !== 0) body.push(5 * 8, ...goVarint(BigInt(size)));
  if (ns !== 0n) body.push(6 * 8, ...goVarint(ns));
  if (devmajor !== 0) body.push(8 * 8, ...goVarint(BigInt(devmajor)));
  if (devminor !== 0) body.push(9 * 8, ...goVarint(BigInt(devminor)));
  return Uint8Array.from([0x12, body.length, ...body]);
}

/** Around `at`, by steps of 2 (doubles above 2^53 are even). */
const near = (at: number) => fc.integer({ min: -64, max: 64 }).map((k) => at + 2 * k);

const micros = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, 9_223_372_036_854_774, 9_223_372_036_854_776, -9_223_372_036_854_776),
  fc.integer({ min: 0, max: 2 ** 31 }),
  // where nanoseconds pass 2^28 and 2^53, and the ends of int64
  near(268_435),
  fc.integer({ min: -3000, max: 3000 }).map((k) => 9_007_199_254_740 + k),
  near(9_223_372_036_854_774),
  near(-9_223_372_036_854_774),
  // the walk's own rounding of an `mtimeMs` (before 1970 too), and times far either way
  fc.double({ min: -1e13, max: 1e13, noNaN: true }).map((ms) => Math.round(ms * 1000)),
  fc.maxSafeInteger(),
  fc.double({ min: -1e20, max: 1e20, noNaN: true }).map(Math.round),
);

const numbers = fc.oneof(
  fc.constant(0),
  fc.nat(),
  fc.maxSafeNat(),
  fc.integer({ min: -(2 ** 31), max: -1 }),
  fc.maxSafeInteger(),
  // past 2^53 (no file is, but a number may be): as exact a bigint as before
  fc.double({ min: 2 ** 53, max: 2 ** 62, noNaN: true }).map(Math.floor),
);

describe("STAT numbers without BigInt", () => {
  it("encode to the BigInt way's bytes, for walked and decoded stats alike", () => {
    fc.assert(
      fc.property(micros, numbers, numbers, numbers, (us, size, devmajor, devminor) => {
        const walked = new WalkedStat("f", 0, 0, 0, size, us, "");
        walked.devmajor = devmajor;
        walked.devminor = devminor;
        const want = expectedPacket(size, nanos(us), devmajor, devminor);
        assert.equal(walked.modTime, nanos(us));
        assert.deepEqual(encodePacket(packet(PacketType.STAT, { stat: walked })), want);
        const plain = stat({ path: "f", size, modTime: nanos(us), devmajor, devminor });
        assert.deepEqual(encodePacket(packet(PacketType.STAT, { stat: plain })), want);
      }),
      { numRuns: 3000 },
    );
  });

  it("sends a walked tree's times as its lstat read them, on one thread or several", async () => {
    using tmp = tempDir();
    const root = tmp.dir;
    for (const dir of ["a", "b", "z"]) {
      nodeFs.mkdirSync(`${root}/${dir}`);
      for (let i = 0; i < 4; i++) {
        const path = `${root}/${dir}/f${i}`;
        nodeFs.writeFileSync(path, "x".repeat(i));
        const seconds = 1_700_000_000 + i * 86_400 + 0.123457 + i / 1e6;
        nodeFs.utimesSync(path, seconds, seconds);
      }
    }
    // before 1970, and past int64 nanoseconds (held at 2262), last in walk order: walked elsewhere
    execFileSync("touch", ["-d", "@-1.031945149", `${root}/a/old`]);
    const year2300 = Date.UTC(2300, 0, 1) / 1000;
    nodeFs.writeFileSync(`${root}/z/future`, "");
    nodeFs.utimesSync(`${root}/z/future`, year2300, year2300);
    const elsewhere: string[] = [];
    const threads = {
      threads: 2,
      startAfter: 0,
      walk: async (task: SourceRunTask) => {
        elsewhere.push(...task.only);
        return walkSourceRun(disk, task);
      },
    };
    const threaded: SourceEntry[] = [];
    for await (const batch of sourceBatches(disk, root, [], 1, threads)) threaded.push(...batch);
    assert.ok(elsewhere.includes("z/future"), `walked elsewhere: ${elsewhere}`);
    for (const entries of [walkSource(disk, root), threaded]) {
      assert.equal(entries.length, 3 + 3 * 4 + 2);
      for (const entry of entries) {
        const want = nanos(Math.round(nodeFs.lstatSync(`${root}/${entry.stat.path}`).mtimeMs * 1000));
        const sent = decodePacket(encodePacket(packet(PacketType.STAT, { stat: entry.stat }))).stat;
        assert.equal(sent?.modTime, want, entry.stat.path);
      }
    }
    assert.equal(threaded.find((e) => e.stat.path === "z/future")?.stat.modTime, INT64_MAX);
  });
});
