/**
 * The session layer's framing: the same 4-byte big-endian length prefix as diff-copy,
 * carrying either a JSON control message (its first byte is always `{`) or a
 * diff-copy `Packet`. A protobuf `Packet` never starts with 0x7b: that byte is field
 * 15 with wire type 3 (start group), which `Packet` does not have. So one stream
 * carries the handshake, the diff-copy session and the result, and either side can
 * tell them apart without extra state. Runtime-agnostic: Web Streams only.
 * @module
 */
import { FSCacheError } from "../../core/errors.ts";
import type { DiffCopyConnection } from "../diffcopy/framing.ts";

/** Largest control or data frame accepted by default (diff-copy's own default). */
export const DEFAULT_SESSION_FRAME_BYTES: number = 4 * 1024 * 1024;

const OPEN_BRACE = 0x7b;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads whole frames (length prefix removed) from a byte stream.
 *
 * @example
 * ```ts
 * const frames = new FrameReader(connection.readable);
 * const first = await frames.next(); // Uint8Array | undefined at end of stream
 * ```
 */
export class FrameReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #max: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #returned: Uint8Array | undefined;
  /** Bytes read from the wire so far. */
  wireBytes = 0;

  constructor(readable: ReadableStream<Uint8Array>, maxFrameBytes: number = DEFAULT_SESSION_FRAME_BYTES) {
    this.#reader = readable.getReader();
    this.#max = maxFrameBytes;
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
    const h = this.#take(4);
    const size = (h[0] as number) * 0x1000000 + (((h[1] as number) << 16) | ((h[2] as number) << 8) | (h[3] as number));
    if (size > this.#max) {
      throw new FSCacheError("ERR_PROTOCOL", `frame of ${size} bytes exceeds the limit of ${this.#max}`);
    }
    if (!(await this.#fill(size))) {
      throw new FSCacheError("ERR_PROTOCOL", `connection closed inside a ${size}-byte frame (truncated frame)`);
    }
    this.wireBytes += 4 + size;
    return this.#take(size);
  }

  /** Hands `payload` out again on the next `next()`. */
  putBack(payload: Uint8Array): void {
    this.#returned = payload;
  }

  /** Stops reading and releases the stream. */
  async cancel(reason?: unknown): Promise<void> {
    this.#ended = true;
    await this.#reader.cancel(reason).catch(() => undefined);
  }

  async #fill(n: number): Promise<boolean> {
    while (this.#buffered < n) {
      if (this.#ended) return false;
      const { done, value } = await this.#reader.read();
      if (done) {
        this.#ended = true;
        return false;
      }
      this.#chunks.push(value);
      this.#buffered += value.length;
    }
    return true;
  }

  #take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let offset = 0;
    while (offset < n) {
      const chunk = this.#chunks[0] as Uint8Array;
      const use = Math.min(chunk.length, n - offset);
      out.set(chunk.subarray(0, use), offset);
      offset += use;
      if (use === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(use);
    }
    this.#buffered -= n;
    return out;
  }
}

/** Prefixes a payload with its 4-byte big-endian length. */
export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}

/**
 * A control message as a frame: compact JSON.
 *
 * @example
 * ```ts
 * await writer.write(controlFrame({ v: 1, type: "hello", key: "k" }));
 * ```
 */
export function controlFrame(message: object): Uint8Array {
  return frame(encoder.encode(JSON.stringify(message)));
}

/** True when a frame's payload is a control message rather than a diff-copy packet. */
export function isControl(payload: Uint8Array): boolean {
  return payload[0] === OPEN_BRACE;
}

/**
 * Parses a control message; anything but a JSON object is an `ERR_PROTOCOL`.
 *
 * @example
 * ```ts
 * parseControl(new TextEncoder().encode('{"v":1}')); // { v: 1 }
 * ```
 */
export function parseControl(payload: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = isControl(payload) ? JSON.parse(decoder.decode(payload)) : undefined;
  } catch {
    value = undefined;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new FSCacheError("ERR_PROTOCOL", "expected a session control message (a JSON object)");
  }
  return value as Record<string, unknown>;
}

/**
 * The diff-copy part of a session as a connection of its own. Its readable hands out
 * one frame per read and only when asked, so the diff-copy reader, which stops after
 * FIN, never swallows the control frame that follows; closing or aborting its writable
 * leaves the session stream open for that frame.
 *
 * @example
 * ```ts
 * const inner = diffCopyChannel(frames, writer);
 * await sendDiffCopy(inner, { fs, root });
 * const result = await frames.next(); // the server's result
 * ```
 */
export function diffCopyChannel(
  frames: FrameReader,
  writer: WritableStreamDefaultWriter<Uint8Array>,
): DiffCopyConnection {
  let open = true;
  const readable = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const payload = open ? await frames.next() : undefined;
        if (payload === undefined) controller.close();
        else if (isControl(payload)) {
          // The peer ended the diff-copy part early (a failure report): to the diff-copy
          // reader the stream ends here; the session reads the report itself.
          open = false;
          frames.putBack(payload);
          controller.close();
        } else controller.enqueue(frame(payload));
      },
      cancel() {
        open = false;
      },
    },
    { highWaterMark: 0 },
  );
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => writer.write(chunk),
  });
  return { readable, writable };
}
