/**
 * Packet framing over Web Streams: each packet is preceded by its length as a 4-byte
 * big-endian integer. The reader refuses frames above a configurable size before
 * buffering them, and a stream that ends inside a frame is an `ERR_PROTOCOL`. The
 * writing half, which batches frames into large writes, is `packet_writer.ts`.
 * @module
 */
import { FSCacheError } from "../../core/errors.ts";
import { decodePacket, type Packet } from "./packet.ts";
import { PacketWriter } from "./packet_writer.ts";

/** Default largest frame accepted: fsutil sends 32 KiB data chunks; gRPC's own limit is 4 MiB. */
export const DEFAULT_MAX_FRAME_BYTES: number = 4 * 1024 * 1024;

/** The two halves of a byte connection to a peer. */
export interface DiffCopyConnection {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  /**
   * True when nothing written to `writable` whose write has resolved is still held by
   * it or below it (a node stream with nothing left to write). Where given, a writer
   * fills the buffers of such writes again instead of allocating new ones; without
   * it, a buffer handed to a write is never touched again.
   */
  writesReleased?: () => boolean;
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
  /** As {@linkcode DiffCopyConnection.writesReleased}, for the stream below this sink. */
  writesReleased?: () => boolean;
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
    writer: new PacketWriter(connection.writable, connection.writesReleased),
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

function isReadable(x: ReadableStream<Uint8Array> | FrameSource): x is ReadableStream<Uint8Array> {
  return typeof (x as ReadableStream<Uint8Array>).getReader === "function";
}
