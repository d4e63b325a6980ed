/**
 * Session tokens: read from a file, compared in constant time. Both sides are hashed
 * to SHA-256 first, so `timingSafeEqual` always compares equal lengths and the time
 * taken says nothing about the expected token's length or content.
 * @module
 */
import { readFileSync } from "node:fs";
import { nodeCrypto } from "../../backends/node_crypto.ts";
import { FSCacheError } from "../../core/errors.ts";

/**
 * A verifier for {@linkcode SessionServerOptions.verifyToken}.
 *
 * @example
 * ```ts
 * const verify = tokenVerifier("s3cret");
 * verify("s3cret"); // true
 * verify(undefined); // false
 * ```
 */
export function tokenVerifier(expected: string): (token: string | undefined) => boolean {
  const { createHash, timingSafeEqual } = nodeCrypto();
  const want = createHash("sha256").update(expected).digest();
  return (token) => {
    const got = createHash("sha256")
      .update(token ?? "")
      .digest();
    // hashed even when absent, so a missing token takes as long as a wrong one
    return timingSafeEqual(got, want) && token !== undefined;
  };
}

/**
 * A token file's content without its trailing newline; empty is an error.
 *
 * @example
 * ```ts
 * const token = readTokenFile("/run/secrets/fscache-token");
 * ```
 */
export function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new FSCacheError("ERR_TOKEN_FILE", `cannot read the token file ${path}: ${(err as Error).message}`, {
      path,
      cause: err,
    });
  }
  const token = text.replace(/\r?\n$/, "");
  if (token === "") throw new FSCacheError("ERR_TOKEN_FILE", `the token file ${path} is empty`, { path });
  return token;
}
