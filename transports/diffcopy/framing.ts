/**
 * Packet framing over Web Streams: each packet is preceded by its length as a 4-byte
 * big-endian integer. The reader refuses frames above a configurable size before
 * buffering them, and a stream that ends inside a frame is an `ERR_PROTOCOL`.
 * @module
 */
import { FSCacheError } from "../../core/errors.ts";
import { decodePacket, type Packet, ProtoWriter } from "./packet.ts";

/** Default largest frame accepted: fsutil sends 32 KiB data chunks; gRPC's own limit is 4 MiB. */
export const DEFAULT_MAX_FRAME_BYTES: number = 4 * 1024 * 1024;

/** The two halves of a byte connection to a peer. */
export interface DiffCopyConnection {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

/** Where frames come from: a {@linkcode FrameReader}, or a session's diff-copy part of one. */
export interface FrameSource {
  /** The next frame's payload, or `undefined` at a clean end. */
  next(): Promise<Uint8Array | undefined>;
  /** The next frame's payload if it has fully arrived already, else `undefined`; never waits. */
  nextBuffered(): Uint8Array | undefined;
  cancel(reason?: unknown): Promise<void>;
  drainThenCancel(reason: unknown, ms?: number): Promise<void>;
  /** Bytes read so far. */
  readonly wireBytes: number;
}

/** Where framed bytes go: a stream's writer, or a session's diff-copy part of one. */
export interface FrameSink {
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
  abort(reason?: unknown): Promise<void>;
}

/** Both directions of a diff-copy exchange, as packets. */
export interface PacketChannel {
  reader: PacketReader;
  writer: PacketWriter;
}

/**
 * The packet channel over a byte connection.
 *
 * @example
 * ```ts
 * const { reader, writer } = packetChannel(connection);
 * ```
 */
export function packetChannel(connection: DiffCopyConnection, maxFrameBytes?: number): PacketChannel {
  return {
    reader: new PacketReader(connection.readable, maxFrameBytes),
    writer: new PacketWriter(connection.writable),
  };
}

/**
 * Reads length-prefixed frames (the prefix removed) from a byte stream. Frames above
 * `maxFrameBytes` are refused before they are buffered; a stream that ends inside a
 * frame is an `ERR_PROTOCOL`. The diff-copy packets and the session layer's control
 * messages both travel in these frames.
 *
 * @example
 * ```ts
 * const frames = new FrameReader(connection.readable);
 * const first = await frames.next(); // Uint8Array, or undefined at end of stream
 * ```
 */
export class FrameReader implements FrameSource {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #maxFrameBytes: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #returned: Uint8Array | undefined;
  /** Bytes read from the wire so far. */
  wireBytes = 0;

  constructor(readable: ReadableStream<Uint8Array>, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.#reader = readable.getReader();
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** The next frame's payload, or `undefined` at a clean end of stream. */
  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      const payload = this.nextBuffered();
      if (payload !== undefined) return payload;
      if (!(await this.#fillMore())) {
        if (this.#buffered === 0) return undefined;
        if (this.#buffered < 4) {
          throw new FSCacheError("ERR_PROTOCOL", "connection closed inside a frame header (truncated frame)");
        }
        throw new FSCacheError(
          "ERR_PROTOCOL",
          `connection closed inside a ${this.#frameSize()}-byte frame (truncated frame)`,
        );
      }
    }
  }

  /**
   * The next frame's payload when all of it has arrived, else `undefined`. Lets a reader
   * work through a chunk holding many small frames without a promise per frame.
   */
  nextBuffered(): Uint8Array | undefined {
    if (this.#returned) {
      const payload = this.#returned;
      this.#returned = undefined;
      return payload;
    }
    if (this.#buffered < 4) return undefined;
    const size = this.#frameSize();
    if (size > this.#maxFrameBytes) {
      throw new FSCacheError("ERR_PROTOCOL", `frame of ${size} bytes exceeds the limit of ${this.#maxFrameBytes}`);
    }
    if (this.#buffered < 4 + size) return undefined;
    this.#take(4);
    this.wireBytes += 4 + size;
    return this.#take(size);
  }

  #frameSize(): number {
    const header = this.#peek(4);
    return (
      (header[0] as number) * 0x1000000 +
      (((header[1] as number) << 16) | ((header[2] as number) << 8) | (header[3] as number))
    );
  }

  /** Hands `payload` out again on the next `next()`. */
  putBack(payload: Uint8Array): void {
    this.#returned = payload;
  }

  /** Stops reading; pending and later `next()` calls fail or end. */
  async cancel(reason?: unknown): Promise<void> {
    this.#ended = true;
    await this.#reader.cancel(reason).catch(() => undefined);
  }

  /**
   * Reads and discards until the peer closes or `ms` pass, then cancels. Used after
   * sending ERR: a peer still writing would otherwise hit a closed pipe (and a Go peer
   * dies of SIGPIPE) before it reads why the session ended.
   */
  async drainThenCancel(reason: unknown, ms = 1000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    });
    const drain = (async () => {
      while (!this.#ended) {
        const { done } = await this.#reader.read();
        if (done) break;
      }
    })().catch(() => undefined);
    try {
      await Promise.race([drain, timeout]);
    } finally {
      clearTimeout(timer);
    }
    await this.cancel(reason);
  }

  /** Reads one more chunk; false at the end of the stream. */
  async #fillMore(): Promise<boolean> {
    for (;;) {
      if (this.#ended) return false;
      const { done, value } = await this.#reader.read();
      if (done) {
        this.#ended = true;
        return false;
      }
      if (value.length === 0) continue;
      this.#chunks.push(value);
      this.#buffered += value.length;
      return true;
    }
  }

  #peek(n: number): Uint8Array {
    const first = this.#chunks[0] as Uint8Array;
    if (first.length >= n) return first;
    return this.#concat(n, false);
  }

  #take(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (n === 0) return new Uint8Array(0);
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      this.#buffered -= n;
      return out;
    }
    return this.#concat(n, true);
  }

  #concat(n: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(n);
    let offset = 0;
    let index = 0;
    while (offset < n) {
      const chunk = this.#chunks[index] as Uint8Array;
      const use = Math.min(chunk.length, n - offset);
      out.set(chunk.subarray(0, use), offset);
      offset += use;
      if (consume) {
        if (use === chunk.length) this.#chunks.shift();
        else this.#chunks[0] = chunk.subarray(use);
      } else index++;
    }
    if (consume) this.#buffered -= n;
    return out;
  }
}

/**
 * Reads framed diff-copy packets from a byte stream.
 *
 * @example
 * ```ts
 * const reader = new PacketReader(connection.readable);
 * for (let p = await reader.next(); p; p = await reader.next()) console.log(p.type);
 * ```
 */
export class PacketReader {
  readonly #frames: FrameSource;

  constructor(source: ReadableStream<Uint8Array> | FrameSource, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.#frames = isReadable(source) ? new FrameReader(source, maxFrameBytes) : source;
  }

  /** Bytes read from the wire so far. */
  get wireBytes(): number {
    return this.#frames.wireBytes;
  }

  /** The next packet, or `undefined` at a clean end of stream. */
  async next(): Promise<Packet | undefined> {
    const payload = this.#frames.nextBuffered() ?? (await this.#frames.next());
    return payload && decodePacket(payload);
  }

  /** The next packet if it has fully arrived already, else `undefined`; never waits. */
  nextBuffered(): Packet | undefined {
    const payload = this.#frames.nextBuffered();
    return payload && decodePacket(payload);
  }

  /** Stops reading; pending and later `next()` calls fail or end. */
  cancel(reason?: unknown): Promise<void> {
    return this.#frames.cancel(reason);
  }

  /** See {@linkcode FrameReader.drainThenCancel}. */
  drainThenCancel(reason: unknown, ms?: number): Promise<void> {
    return this.#frames.drainThenCancel(reason, ms);
  }
}

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

function isReadable(x: ReadableStream<Uint8Array> | FrameSource): x is ReadableStream<Uint8Array> {
  return typeof (x as ReadableStream<Uint8Array>).getReader === "function";
}

function isWritable(x: WritableStream<Uint8Array> | FrameSink): x is WritableStream<Uint8Array> {
  return typeof (x as WritableStream<Uint8Array>).getWriter === "function";
}

function varintSize(value: number): number {
  let n = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) n++;
  return n;
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

/**
 * Writes framed packets to a byte stream, batched: `queue` appends a frame to a buffer
 * that goes out as one write once it is large, or when `flush` is called. A tiny write
 * per packet cost a syscall and a TCP segment each (10,000 STATs, 10,000 writes). Writes
 * stay in order; `send` is `queue` plus `flush`.
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
  /** Bytes handed to the wire so far. */
  wireBytes = 0;

  constructor(sink: WritableStream<Uint8Array> | FrameSink) {
    this.#sink = isWritable(sink) ? sink.getWriter() : sink;
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
      // handed over, not reused: a stream may still hold the view after its write resolved
      // (a TransformStream passes it on as it is)
      bytes = out.buf.subarray(0, out.pos);
      this.#out = new ProtoWriter(out.buf.length);
    }
    return this.#sink.write(bytes);
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
