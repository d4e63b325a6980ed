/**
 * SHA-256 from `node:crypto` (OpenSSL, SHA-NI where the CPU has it; Deno provides
 * the same module). The fastest hasher on Node and Deno by far.
 * @module
 */
import { createHash } from "node:crypto";
import type { Sha256, Sha256Factory } from "../core/types.ts";

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
  const hash = createHash("sha256");
  return {
    update(data) {
      hash.update(data);
    },
    digest() {
      return hash.digest("hex");
    },
  };
};
