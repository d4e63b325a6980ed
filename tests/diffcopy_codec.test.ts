/** The diff-copy codec's known answers: frame bytes, Go file modes, walk order. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compareWalkOrder as comparePath } from "../core/names.ts";
import { goModeFromPosix, posixModeFromGo } from "../transports/diffcopy/file_mode.ts";
import { decodePacket, PacketType, packet, stat } from "../transports/diffcopy/packet.ts";
import { encodeFrame } from "../transports/diffcopy/packet_writer.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");

describe("diff-copy codec", () => {
  it("encodes the frames docs/PROTOCOL.md shows", () => {
    assert.equal(hex(encodeFrame(packet(PacketType.REQ, { id: 5 }))), "00 00 00 04 08 01 18 05");
    assert.equal(hex(encodeFrame(packet(PacketType.FIN))), "00 00 00 02 08 03");
    assert.equal(hex(encodeFrame(packet(PacketType.STAT))), "00 00 00 00");
    const s = packet(PacketType.STAT, { stat: stat({ path: "a", mode: 0o644, size: 4 }) });
    assert.equal(hex(encodeFrame(s)), "00 00 00 0a 12 08 0a 01 61 10 a4 03 28 04");
  });

  it("round-trips negative int64s (pre-1970 mtimes) as 10-byte varints", () => {
    const s = stat({
      path: "old",
      modTime: -1_000_000_000n,
      devmajor: -1,
      xattrs: new Map([["user.k", Uint8Array.of(1)]]),
    });
    const back = decodePacket(encodeFrame(packet(PacketType.STAT, { stat: s })).subarray(4));
    assert.deepEqual(back.stat, s);
  });

  it("distinguishes the end-of-list STAT (no stat) from an empty one", () => {
    assert.equal(decodePacket(new Uint8Array(0)).stat, undefined);
    assert.deepEqual(decodePacket(Uint8Array.of(0x12, 0x00)).stat, stat({ path: "" }));
  });

  it("converts Go FileMode bits to and from POSIX modes", () => {
    const cases: [number, number][] = [
      [0o100644, 0o644],
      [0o040755, 0x80000000 + 0o755],
      [0o120777, 0x8000000 + 0o777],
      [0o104755, 0x800000 + 0o755],
      [0o102755, 0x400000 + 0o755],
      [0o041777, 0x80000000 + 0x100000 + 0o777],
      [0o020666, 0x4000000 + 0x200000 + 0o666],
      [0o060660, 0x4000000 + 0o660],
      [0o010644, 0x2000000 + 0o644],
    ];
    for (const [posix, go] of cases) {
      assert.equal(goModeFromPosix(posix), go, posix.toString(8));
      assert.equal(posixModeFromGo(go), posix, go.toString(16));
    }
    assert.equal(posixModeFromGo(0x80000000 + 0x8000000), undefined);
    assert.equal(posixModeFromGo(0x1000000 + 0o644), undefined, "sockets are refused");
    assert.equal(posixModeFromGo(0x40000000 + 0o644), undefined, "append-only is refused");
  });

  it("sorts paths in walk order: / before every other byte, UTF-8 byte order otherwise", () => {
    assert.deepEqual(["foo0", "foo.2", "foo/a", "foo"].sort(comparePath), ["foo", "foo/a", "foo.2", "foo0"]);
    // U+FFFD (EF BF BD) sorts before U+1F600 (F0 9F 98 80) in UTF-8, unlike in UTF-16
    assert.ok(comparePath("\ufffd", "\u{1f600}") < 0);
    assert.ok(comparePath("a", "a") === 0);
  });
});
