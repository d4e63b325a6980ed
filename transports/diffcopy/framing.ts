/**
 * Packet framing over Web Streams: each packet is preceded by its length as a 4-byte
 * big-endian integer. The reader refuses frames above a configurable size before
 * buffering them, and a stream that ends inside a frame is an `ERR_PROTOCOL`.
 * @module
 */
import { FSCacheError } from "../../core/errors.ts";
import { decodePacket, encodePacket, type Packet } from "./packet.ts";

/** Default largest frame accepted: fsutil sends 32 KiB data chunks; gRPC's own limit is 4 MiB. */
export const DEFAULT_MAX_FRAME_BYTES: number = 4 * 1024 * 1024;

/** The two halves of a byte connection to a peer. */
export interface DiffCopyConnection {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
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
export class FrameReader {
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
    if (this.#returned) {
      const payload = this.#returned;
      this.#returned = undefined;
      return payload;
    }
    if (!(await this.#fill(4))) {
      if (this.#buffered === 0) return undefined;
      throw new FSCacheError("ERR_PROTOCOL", "connection closed inside a frame header (truncated frame)");
    }
    const header = this.#peek(4);
    const size =
      (header[0] as number) * 0x1000000 +
      (((header[1] as number) << 16) | ((header[2] as number) << 8) | (header[3] as number));
    if (size > this.#maxFrameBytes) {
      throw new FSCacheError("ERR_PROTOCOL", `frame of ${size} bytes exceeds the limit of ${this.#maxFrameBytes}`);
    }
    if (!(await this.#fill(4 + size))) {
      throw new FSCacheError("ERR_PROTOCOL", `connection closed inside a ${size}-byte frame (truncated frame)`);
    }
    this.#take(4);
    this.wireBytes += 4 + size;
    return this.#take(size);
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

  async #fill(n: number): Promise<boolean> {
    while (this.#buffered < n) {
      if (this.#ended) return false;
      const { done, value } = await this.#reader.read();
      if (done) {
        this.#ended = true;
        return false;
      }
      if (value.length === 0) continue;
      this.#chunks.push(value);
      this.#buffered += value.length;
    }
    return true;
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
  readonly #frames: FrameReader;

  constructor(readable: ReadableStream<Uint8Array>, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.#frames = new FrameReader(readable, maxFrameBytes);
  }

  /** Bytes read from the wire so far. */
  get wireBytes(): number {
    return this.#frames.wireBytes;
  }

  /** The next packet, or `undefined` at a clean end of stream. */
  async next(): Promise<Packet | undefined> {
    const payload = await this.#frames.next();
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
  const frame = encodePacket(p, 4);
  const size = frame.length - 4;
  frame[0] = size >>> 24;
  frame[1] = (size >>> 16) & 0xff;
  frame[2] = (size >>> 8) & 0xff;
  frame[3] = size & 0xff;
  return frame;
}

/**
 * Writes framed packets to a byte stream. Writes are queued in order; `send` resolves
 * when the stream has taken the frame (backpressure).
 *
 * @example
 * ```ts
 * const writer = new PacketWriter(connection.writable);
 * await writer.send(packet(PacketType.FIN));
 * await writer.close();
 * ```
 */
export class PacketWriter {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  /** Bytes handed to the wire so far. */
  wireBytes = 0;

  constructor(writable: WritableStream<Uint8Array>) {
    this.#writer = writable.getWriter();
  }

  send(p: Packet): Promise<void> {
    const frame = encodeFrame(p);
    this.wireBytes += frame.length;
    return this.#writer.write(frame);
  }

  /** Closes the stream after queued frames are written. */
  async close(): Promise<void> {
    await this.#writer.close();
  }

  /** Aborts the stream (queued frames are dropped). */
  async abort(reason?: unknown): Promise<void> {
    await this.#writer.abort(reason).catch(() => undefined);
  }

  /** Sends a last packet without waiting longer than `ms`, then aborts the stream. */
  async sendAndAbort(p: Packet, reason: unknown, ms = 1000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    });
    try {
      await Promise.race([this.send(p).then(() => this.#writer.close()), timeout]);
    } catch {
      // the peer may be gone already; the error is reported locally anyway
    } finally {
      clearTimeout(timer);
    }
    await this.#writer.abort(reason).catch(() => undefined);
  }
}
