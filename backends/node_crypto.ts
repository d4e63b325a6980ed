/**
 * `node:crypto`, loaded on first use, and random keys without it. Loading the module
 * loads every cipher, key and certificate module of Node's with it: 6–11 ms of a
 * command's start here, which a no-op sync (nothing to hash) and a push client (the
 * server hashes) would pay only to make a random key.
 * @module
 */
import { closeSync, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import { hexOf } from "../core/byte_io.ts";

type NodeCrypto = typeof import("node:crypto");
let loaded: NodeCrypto | undefined;

/**
 * `node:crypto` (Node, Deno), loaded the first time it is asked for.
 *
 * @example
 * ```ts
 * nodeCrypto().createHash("sha256").update("data").digest("hex"); // "3a6eb079…"
 * ```
 */
export function nodeCrypto(): NodeCrypto {
  loaded ??= createRequire(import.meta.url)("node:crypto") as NodeCrypto;
  return loaded;
}

/**
 * `n` random bytes from the system's generator: read from `/dev/urandom` where there is
 * one (what OpenSSL's generator draws from too), else from `node:crypto`.
 *
 * @example
 * ```ts
 * randomBytes(16).length; // 16
 * ```
 */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let fd: number | undefined;
  try {
    fd = openSync("/dev/urandom", "r");
    for (let at = 0; at < n; ) {
      const got = readSync(fd, out, at, n - at, null);
      if (got <= 0) throw new Error("short read from /dev/urandom");
      at += got;
    }
    return out;
  } catch {
    return new Uint8Array(nodeCrypto().randomBytes(n));
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * A random version 4 UUID, as `crypto.randomUUID()` makes one, from {@linkcode randomBytes}.
 *
 * @example
 * ```ts
 * randomUUID(); // "3b241101-e2bb-4255-8caf-4136c566a962"
 * ```
 */
export function randomUUID(): string {
  const b = randomBytes(16);
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const hex = hexOf(b);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
