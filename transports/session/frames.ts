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
import { DEFAULT_MAX_FRAME_BYTES, type DiffCopyConnection, FrameReader } from "../diffcopy/framing.ts";

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
