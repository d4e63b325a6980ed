/** Batched frame writes and reads: the bytes on the wire are exactly the frames, in fewer writes. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FrameReader, type FrameSink } from "../transports/diffcopy/framing.ts";
import { PacketType, packet, stat } from "../transports/diffcopy/packet.ts";
import { encodeFrame, PacketWriter } from "../transports/diffcopy/packet_writer.ts";
import { concatBytes } from "./_helpers.ts";

function recordingSink(): FrameSink & { writes: Uint8Array[] } {
  const writes: Uint8Array[] = [];
  return {
    writes,
    write: async (bytes) => {
      writes.push(bytes.slice());
    },
    close: async () => undefined,
    abort: async () => undefined,
  };
}

describe("diff-copy batching", () => {
  it("queued packets go out in a few large writes, byte for byte the frames", async () => {
    const sink = recordingSink();
    const writer = new PacketWriter(sink);
    const packets = Array.from({ length: 5000 }, (_, i) =>
      packet(PacketType.STAT, {
        stat: stat({ path: `dir/file-${i}.txt`, mode: 0o644, size: i, modTime: 1_700_000_000_123_456_000n }),
      }),
    );
    for (const p of packets) {
      const filled = writer.queue(p);
      if (filled) await filled;
    }
    await writer.send(packet(PacketType.STAT));
    const expected = concatBytes([...packets.map(encodeFrame), encodeFrame(packet(PacketType.STAT))]);
    assert.deepEqual(concatBytes(sink.writes), expected);
    assert.ok(sink.writes.length <= 3, `${sink.writes.length} writes for ${expected.length} bytes`);
    assert.equal(writer.wireBytes, expected.length);
  });

  it("DATA read straight into the batch equals an encoded DATA frame, also when fewer bytes came", async () => {
    const sink = recordingSink();
    const writer = new PacketWriter(sink);
    const content = new TextEncoder().encode("short");
    // 200 expected needs a 2-byte length, the 5 read need 1: the header is moved up
    const { bytes } = writer.queueRead(300, 200, (buffer, offset) => {
      buffer.set(content, offset);
      return content.length;
    });
    assert.equal(bytes, 5);
    assert.equal(writer.queueRead(300, 10, () => 0).bytes, 0, "nothing queued at end of file");
    await writer.flush();
    assert.deepEqual(concatBytes(sink.writes), encodeFrame(packet(PacketType.DATA, { id: 300, data: content })));
  });

  it("nextBuffered hands out only frames that have fully arrived", async () => {
    const frames = [encodeFrame(packet(PacketType.REQ, { id: 1 })), encodeFrame(packet(PacketType.REQ, { id: 2 }))];
    const bytes = concatBytes(frames);
    const stream = new TransformStream<Uint8Array, Uint8Array>();
    const reader = new FrameReader(stream.readable);
    const w = stream.writable.getWriter();
    void w.write(bytes.subarray(0, frames[0]!.length + 2));
    assert.equal(reader.nextBuffered(), undefined, "nothing read yet");
    assert.deepEqual(await reader.next(), frames[0]!.subarray(4));
    assert.equal(reader.nextBuffered(), undefined, "the second frame is incomplete");
    void w.write(bytes.subarray(frames[0]!.length + 2));
    void w.close();
    assert.deepEqual(await reader.next(), frames[1]!.subarray(4));
    assert.equal(await reader.next(), undefined);
  });
});

describe("diff-copy batch buffers", () => {
  const statPackets = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      packet(PacketType.STAT, { stat: stat({ path: `some/longer/dir/name/file-${i}.txt`, mode: 0o644, size: i }) }),
    );

  /** A sink that keeps the views it is given (as a stream that passes chunks on does). */
  function holdingSink(released: () => boolean, pending = false) {
    const held: Uint8Array[] = [];
    const waiting: (() => void)[] = [];
    const sink: FrameSink = {
      write: (bytes) => {
        held.push(bytes);
        return pending ? new Promise<void>((resolve) => waiting.push(resolve)) : Promise.resolve();
      },
      close: async () => undefined,
      abort: async () => undefined,
      writesReleased: released,
    };
    return { sink, held, waiting };
  }

  it("fills the buffers of finished writes again once the stream says it let go of them", async () => {
    const sent: Uint8Array[] = [];
    const buffers = new Set<ArrayBufferLike>();
    const sink: FrameSink = {
      write: async (bytes) => {
        sent.push(bytes.slice()); // taken in full before the write resolves, as a socket does
        buffers.add(bytes.buffer);
      },
      close: async () => undefined,
      abort: async () => undefined,
      writesReleased: () => true,
    };
    const writer = new PacketWriter(sink);
    const packets = statPackets(40_000);
    for (const p of packets) await writer.queue(p);
    await writer.flush();
    assert.deepEqual(concatBytes(sent), concatBytes(packets.map(encodeFrame)));
    assert.ok(sent.length >= 6, `${sent.length} batches`);
    assert.ok(buffers.size <= 3, `${buffers.size} buffers for ${sent.length} batches`);
  });

  it("never fills a buffer again while the stream may hold it", async () => {
    const packets = statPackets(40_000);
    const expected = concatBytes(packets.map(encodeFrame));
    // the stream holds every view and says so
    const holding = holdingSink(() => false);
    const writer = new PacketWriter(holding.sink);
    for (const p of packets) await writer.queue(p);
    await writer.flush();
    assert.ok(holding.held.length >= 6);
    assert.deepEqual(concatBytes(holding.held), expected, "what the stream held was overwritten");
    // the stream holds nothing, but the writes have not resolved yet (a web stream's queue)
    const queued = holdingSink(() => true, true);
    const early = new PacketWriter(queued.sink);
    for (const p of packets) void early.queue(p);
    void early.flush();
    assert.deepEqual(concatBytes(queued.held), expected, "a buffer of an unresolved write was filled again");
    for (const resolve of queued.waiting) resolve();
  });
});
