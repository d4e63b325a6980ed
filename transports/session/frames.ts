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
import {
  DEFAULT_MAX_FRAME_BYTES,
  FrameReader,
  type FrameSink,
  type FrameSource,
  type PacketChannel,
  PacketReader,
} from "../diffcopy/framing.ts";
import { PacketWriter } from "../diffcopy/packet_writer.ts";

export { FrameReader };

/** Largest control or data frame accepted by default (diff-copy's own default). */
export const DEFAULT_SESSION_FRAME_BYTES: number = DEFAULT_MAX_FRAME_BYTES;

const OPEN_BRACE = 0x7b;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

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
 * The diff-copy part of a session as a packet channel of its own. Its reader ends at
 * the first control frame (leaving it for the session to read: the peer ended the
 * diff-copy part early with a failure report, or the transfer is over), and its
 * writer's close and abort leave the session stream open for the control frame that
 * follows. Frames pass through as they are, without copies.
 *
 * @example
 * ```ts
 * await sendDiffCopy(diffCopyChannel(frames, writer), { fs, root });
 * const result = await frames.next(); // the server's result
 * ```
 */
export function diffCopyChannel(
  frames: FrameReader,
  writer: { write(bytes: Uint8Array): Promise<void>; writesReleased?: () => boolean },
): PacketChannel {
  let open = true;
  const take = (payload: Uint8Array | undefined): Uint8Array | undefined => {
    if (payload === undefined || !isControl(payload)) return payload;
    open = false;
    frames.putBack(payload);
    return undefined;
  };
  const source: FrameSource = {
    get wireBytes() {
      return frames.wireBytes;
    },
    async next() {
      return open ? take(await frames.next()) : undefined;
    },
    nextBuffered() {
      return open ? take(frames.nextBuffered()) : undefined;
    },
    async cancel() {
      open = false;
    },
    async drainThenCancel(_reason: unknown, ms = 1000) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      });
      const drain = (async () => {
        while (open && (await frames.next().then(take)) !== undefined) {
          // discarded: the session is failing anyway
        }
      })().catch(() => undefined);
      try {
        await Promise.race([drain, timeout]);
      } finally {
        clearTimeout(timer);
      }
      open = false;
    },
  };
  const sink: FrameSink = {
    write: (bytes) => writer.write(bytes),
    close: async () => undefined,
    abort: async () => undefined,
    ...(writer.writesReleased ? { writesReleased: writer.writesReleased } : {}),
  };
  return { reader: new PacketReader(source), writer: new PacketWriter(sink) };
}
