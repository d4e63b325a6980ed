/**
 * Fuzzing the packet decoder and the receiver with fast-check: random bytes, random
 * packet sequences and mutated valid streams never crash it (only `FSCacheError`s),
 * never hang it, and never write outside the destination.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Volume } from "memfs";
import { FSCacheError } from "../core/errors.ts";
import { fileSystemFrom } from "../core/file_system.ts";
import { encodeFrame } from "../transports/diffcopy/framing.ts";
import { decodePacket, encodePacket, type Packet, PacketType, packet, stat } from "../transports/diffcopy/packet.ts";
import { DATA, DIR, END, FILE, FIN, runHostile, S, SYMLINK, snapshotOutside } from "./_hostile.ts";

function memoryDisk() {
  const fs = fileSystemFrom(new Volume());
  fs.mkdirSync("/r/dest", { recursive: true });
  fs.mkdirSync("/r/outside", { recursive: true });
  fs.writeFileSync("/r/outside/secret", "keep me");
  fs.symlinkSync("../outside", "/r/dest/evil");
  return fs;
}

const OUTSIDE_BEFORE = snapshotOutside(memoryDisk(), "/r", "/r/dest");

async function assertContained(input: (Packet | Uint8Array)[]): Promise<void> {
  const fs = memoryDisk();
  const { error } = await runHostile(fs, "/r/dest", input, { maxFrameBytes: 4096 });
  if (error !== undefined && !(error instanceof FSCacheError)) throw error;
  assert.deepEqual(snapshotOutside(fs, "/r", "/r/dest"), OUTSIDE_BEFORE);
}

const arbName = fc.constantFrom("a", "b", "evil", "..", ".", "", "x y", "ü", "/", "a/b", "evil/secret");
const arbPath = fc.array(arbName, { minLength: 1, maxLength: 3 }).map((parts) => parts.join("/"));
const arbMode = fc.oneof(
  fc.constantFrom(FILE, DIR, SYMLINK, 0o755, 0x2000000 | 0o644, 0x4000000 | 0o600),
  fc.integer({ min: 0, max: 0xffffffff }),
);
const arbStat = fc.record({
  path: arbPath,
  mode: arbMode,
  size: fc.integer({ min: 0, max: 40 }),
  linkname: fc.constantFrom("", "a", "../outside/secret", "/etc/passwd", "evil", "b"),
  uid: fc.integer({ min: 0, max: 2000 }),
  modTime: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
});
const arbPacket: fc.Arbitrary<Packet> = fc.oneof(
  { weight: 5, arbitrary: arbStat.map((s) => packet(PacketType.STAT, { stat: stat(s) })) },
  { weight: 2, arbitrary: fc.constant(END) },
  { weight: 3, arbitrary: fc.tuple(fc.nat(6), fc.string({ maxLength: 20 })).map(([id, t]) => DATA(id, t)) },
  { weight: 1, arbitrary: fc.constantFrom(FIN, packet(PacketType.REQ, { id: 1 }), packet(PacketType.ERR)) },
);

/** A valid stream for a small tree: a dir, two files, a symlink, a hard link. */
function validStream(): Uint8Array {
  const frames = [
    S("a", { size: 5 }),
    S("d", { mode: DIR }),
    S("d/f", { size: 3 }),
    S("h", { linkname: "a", size: 5 }),
    S("l", { mode: SYMLINK, linkname: "a" }),
    END,
    DATA(0, "hello"),
    DATA(0),
    DATA(2, "abc"),
    DATA(2),
    FIN,
  ].map((p) => encodeFrame(p));
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let off = 0;
  for (const f of frames) {
    out.set(f, off);
    off += f.length;
  }
  return out;
}

describe("diff-copy fuzzing", () => {
  it("the decoder returns a packet or throws ERR_PROTOCOL for any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodePacket(bytes);
        } catch (err) {
          assert.ok(err instanceof FSCacheError && err.code === "ERR_PROTOCOL", String(err));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("decode(encode(packet)) is the packet", () => {
    fc.assert(
      fc.property(arbPacket, fc.nat(), (p, id) => {
        const original = { ...p, id };
        const back = decodePacket(encodePacket(original));
        assert.deepEqual(back, original);
      }),
      { numRuns: 300 },
    );
  });

  it("the receiver survives random packet sequences without writing outside", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbPacket, { maxLength: 12 }), (packets) => assertContained(packets)),
      { numRuns: 300 },
    );
  });

  it("the receiver survives mutated valid streams without writing outside", async () => {
    const valid = validStream();
    const fs = memoryDisk();
    const ok = await runHostile(fs, "/r/dest", [valid]);
    assert.equal(ok.error, undefined, "the unmutated stream is accepted");
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(valid.length),
        (flips, cut) => {
          const bytes = valid.slice(0, Math.max(cut, valid.length - 8));
          for (const [at, value] of flips) if (at < bytes.length) bytes[at] = value;
          return assertContained([bytes]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
