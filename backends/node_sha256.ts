/**
 * SHA-256 from `node:crypto` (OpenSSL, SHA-NI where the CPU has it; Deno provides
 * the same module). The fastest hasher on Node and Deno by far.
 * @module
 */
import type { Sha256, Sha256Factory } from "../core/types.ts";
import { nodeCrypto } from "./node_crypto.ts";

/**
 * A fresh streaming SHA-256.
 *
 * @example
 * ```ts
 * const h = nodeSha256();
 * h.update("data");
 * h.digest(); // "3a6eb079…"
 * ```
 */
export const nodeSha256: Sha256Factory = (): Sha256 => {
  const hash = nodeCrypto().createHash("sha256");
  return {
    update(data) {
      hash.update(data);
    },
    digest() {
      return hash.digest("hex");
    },
  };
};

type OneShot = (algorithm: string, data: string | Uint8Array, encoding: "hex") => string;
/** `crypto.hash` (Node ≥ 20.12, Deno): no Hash object, stream or second call per digest. */
let oneShot: OneShot | null | undefined;

/**
 * SHA-256 hex of `data` in one call: for many small inputs, where building a streaming
 * hash per input costs more than hashing it.
 *
 * @example
 * ```ts
 * sha256Hex("data"); // "3a6eb079…"
 * ```
 */
export function sha256Hex(data: string | Uint8Array): string {
  const crypto = nodeCrypto();
  oneShot ??= (crypto as unknown as { hash?: OneShot }).hash ?? null;
  if (oneShot) return oneShot("sha256", data, "hex");
  return crypto.createHash("sha256").update(data).digest("hex");
}
