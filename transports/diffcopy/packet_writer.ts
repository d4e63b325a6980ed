/**
 * The writing half of the diff-copy framing (`./framing.ts`): frames (a 4-byte
 * big-endian length, then the packet) encoded into batches that go out as large writes.
 * @module
 */
import type { DiffCopyConnection, FrameSink } from "./framing.ts";
import type { Packet } from "./packet.ts";
import { ProtoWriter, varintSize } from "./packet_encoder.ts";

/**
 * One frame: length prefix plus encoded packet, in one buffer.
 *
 * @example
 * ```ts
 * encodeFrame(packet(PacketType.FIN)); // Uint8Array [0, 0, 0, 2, 0x08, 0x03]
 * ```
 */
export function encodeFrame(p: Packet): Uint8Array {
  const out = new ProtoWriter(64 + p.data.length);
  appendFrame(out, p);
  return out.take();
}

function appendFrame(out: ProtoWriter, p: Packet): number {
  out.ensure(4);
  const start = out.pos;
  out.pos += 4;
  out.packet(p);
  const size = out.pos - start - 4;
  const buf = out.buf;
  buf[start] = size >>> 24;
  buf[start + 1] = (size >>> 16) & 0xff;
  buf[start + 2] = (size >>> 8) & 0xff;
  buf[start + 3] = size & 0xff;
  return size + 4;
}

function isWritable(x: WritableStream<Uint8Array> | FrameSink): x is WritableStream<Uint8Array> {
  return typeof (x as WritableStream<Uint8Array>).getWriter === "function";
}

/** Frame header plus the fields before the data of a DATA packet: what `encodeFrame` writes. */
function dataHeaderSize(id: number, length: number): number {
  return 4 + 2 + (id === 0 ? 0 : 1 + varintSize(id)) + 1 + varintSize(length);
}

function writeDataHeader(buf: Uint8Array, start: number, frameBytes: number, id: number, length: number): void {
  const size = frameBytes - 4;
  buf[start] = size >>> 24;
  buf[start + 1] = (size >>> 16) & 0xff;
  buf[start + 2] = (size >>> 8) & 0xff;
  buf[start + 3] = size & 0xff;
  let at = start + 4;
  buf[at++] = 0x08; // field 1 (type), varint
  buf[at++] = 2; // DATA
  const varint = (value: number) => {
    let v = value;
    while (v >= 0x80) {
      buf[at++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    buf[at++] = v;
  };
  if (id !== 0) {
    buf[at++] = 0x18; // field 3 (id), varint
    varint(id);
  }
  buf[at++] = 0x22; // field 4 (data), length-delimited
  varint(length);
}

/** A batch is written once it holds this much: large writes, few syscalls and promise hops. */
const BATCH_BYTES = 256 * 1024;
/** Smaller batches are copied out; larger ones hand their buffer over and start a new one. */
const COPY_BELOW = 16 * 1024;
/** Batch buffers kept for filling again: two take turns while one is being written. */
const SPARE_BUFFERS = 2;

/**
 * Writes framed packets to a byte stream, batched: `queue` appends a frame to a buffer
 * that goes out as one write once it is large, or when `flush` is called. A tiny write
 * per packet cost a syscall and a TCP segment each (10,000 STATs, 10,000 writes). Writes
 * stay in order; `send` is `queue` plus `flush`.
 *
 * A batch's buffer goes to the stream as it is. Given `writesReleased` (see
 * {@linkcode DiffCopyConnection}), the buffers of finished writes are filled again:
 * a new 300 kB buffer per batch, zeroed and faulted in page by page, was ~8% of a
 * first push's client CPU.
 *
 * @example
 * ```ts
 * const writer = new PacketWriter(connection.writable);
 * for (const s of stats) await writer.queue(packet(PacketType.STAT, { stat: s }));
 * await writer.send(packet(PacketType.STAT)); // the batch goes out
 * await writer.close();
 * ```
 */
export class PacketWriter {
  readonly #sink: FrameSink;
  #out = new ProtoWriter(BATCH_BYTES + 40 * 1024);
  #error: unknown;
  readonly #released: (() => boolean) | undefined;
  /** Batch buffers handed to the sink since it last held none. */
  readonly #lent: Uint8Array[] = [];
  /** Batch buffers the sink let go of, to fill again. */
  readonly #spare: Uint8Array[] = [];
  /** Writes not yet resolved (or rejected). */
  #writing = 0;
  /** Bytes handed to the wire so far. */
  wireBytes = 0;

  /** `writesReleased`: see {@linkcode DiffCopyConnection}; a `FrameSink` may carry its own. */
  constructor(sink: WritableStream<Uint8Array> | FrameSink, writesReleased?: DiffCopyConnection["writesReleased"]) {
    this.#sink = isWritable(sink) ? sink.getWriter() : sink;
    this.#released = writesReleased ?? (isWritable(sink) ? undefined : sink.writesReleased);
  }

  /**
   * Appends a packet to the batch. Returns the write's promise when this filled the batch
   * (await it: backpressure), else `undefined`. Throws if an earlier background write failed.
   */
  queue(p: Packet): Promise<void> | undefined {
    if (this.#error !== undefined) throw this.#error;
    this.wireBytes += appendFrame(this.#out, p);
    return this.#out.pos >= BATCH_BYTES ? this.flush() : undefined;
  }

  /**
   * Queues one DATA frame for `id` whose bytes `read(buffer, offset, length)` puts
   * straight into the batch, without a copy; `expected` is how many it should give
   * (the frame header is sized for that and moved if fewer came). Returns the bytes
   * read (0: nothing was queued) and, when the batch filled, its write to await.
   */
  queueRead(
    id: number,
    expected: number,
    read: (buffer: Uint8Array, offset: number, length: number) => number,
  ): { bytes: number; filled: Promise<void> | undefined } {
    if (this.#error !== undefined) throw this.#error;
    const out = this.#out;
    const head = dataHeaderSize(id, expected);
    out.ensure(head + expected);
    const start = out.pos;
    const n = read(out.buf, start + head, expected);
    if (n <= 0) return { bytes: 0, filled: undefined };
    const actual = dataHeaderSize(id, n);
    if (actual !== head) out.buf.copyWithin(start + actual, start + head, start + head + n);
    writeDataHeader(out.buf, start, actual + n, id, n);
    out.pos = start + actual + n;
    this.wireBytes += actual + n;
    return { bytes: n, filled: out.pos >= BATCH_BYTES ? this.flush() : undefined };
  }

  /** Writes what is batched; resolves when the stream has taken it. */
  flush(): Promise<void> {
    const out = this.#out;
    if (out.pos === 0) return Promise.resolve();
    let bytes: Uint8Array;
    if (out.pos < COPY_BELOW) bytes = out.take();
    else {
      // Handed over: a stream may hold the view after its write resolved (a TransformStream
      // passes it on as it is), so it is filled again only once the stream says it let go.
      bytes = out.buf.subarray(0, out.pos);
      this.#out = new ProtoWriter(this.#spareBuffer() ?? out.buf.length);
      if (this.#released) this.#lent.push(out.buf);
    }
    return this.#write(bytes);
  }

  #write(bytes: Uint8Array): Promise<void> {
    this.#writing++;
    const written = this.#sink.write(bytes);
    // Registered before the caller's await, so the count is down when the caller goes on.
    written.then(
      () => this.#writing--,
      () => {
        this.#writing--;
        this.#lent.length = 0; // a failed stream may hold them yet; nothing is written after anyway
      },
    );
    return written;
  }

  /** A buffer of a finished write, when every write has resolved and the stream holds none. */
  #spareBuffer(): Uint8Array | undefined {
    if (this.#lent.length > 0 && this.#writing === 0 && this.#released?.()) {
      for (const buf of this.#lent.splice(0)) if (this.#spare.length < SPARE_BUFFERS) this.#spare.push(buf);
    }
    // Writes that never finish must not pin buffers without bound.
    if (this.#lent.length > SPARE_BUFFERS) this.#lent.shift();
    return this.#spare.pop();
  }

  /** Flushes without waiting; a failure surfaces on the next `queue`, `send` or `flush`. */
  flushSoon(): void {
    this.flush().catch((err) => {
      this.#error ??= err;
    });
  }

  /** Queues `p` and flushes. */
  send(p: Packet): Promise<void> {
    this.queue(p);
    return this.flush();
  }

  /** Closes the stream after queued frames are written. */
  async close(): Promise<void> {
    await this.flush();
    await this.#sink.close();
  }

  /** Aborts the stream (queued frames are dropped). */
  async abort(reason?: unknown): Promise<void> {
    this.#out.pos = 0;
    await this.#sink.abort(reason).catch(() => undefined);
  }

  /** Sends a last packet (after what is queued) without waiting longer than `ms`, then aborts the stream. */
  async sendAndAbort(p: Packet, reason: unknown, ms = 1000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    });
    try {
      this.wireBytes += appendFrame(this.#out, p);
      await Promise.race([this.flush().then(() => this.#sink.close()), timeout]);
    } catch {
      // the peer may be gone already; the error is reported locally anyway
    } finally {
      clearTimeout(timer);
    }
    await this.#sink.abort(reason).catch(() => undefined);
  }
}
