/**
 * A streaming SHA-256 for browsers (and any runtime with WebAssembly): `hash-wasm`'s.
 * WebAssembly can only be instantiated asynchronously on a page's main thread, but
 * {@linkcode Sha256Factory} is synchronous, so one instance is made up front and
 * shared: each hash keeps its own state, swapped in (`load`) and out (`save`) only
 * when another hash used the instance in between. Hashes fed one after another (the
 * usual case) pay nothing for the sharing.
 * @module
 */
import { createSHA256, type IHasher } from "hash-wasm";
import type { Sha256, Sha256Factory } from "../core/types.ts";

/**
 * Makes the factory (instantiates the WebAssembly module once).
 *
 * @example
 * ```ts
 * const sha256 = await createWasmSha256();
 * const h = sha256();
 * h.update("data");
 * h.digest(); // "3a6eb079…"
 * ```
 */
export async function createWasmSha256(): Promise<Sha256Factory> {
  const wasm: IHasher = await createSHA256();
  let owner: SharedHash | undefined;

  class SharedHash implements Sha256 {
    /** Saved state while another hash holds the instance; undefined before first use. */
    #state: Uint8Array | undefined;
    #done = false;

    #take(): void {
      if (this.#done) throw new Error("sha256: digest() was already called");
      if (owner === this) return;
      if (owner) owner.#state = wasm.save();
      if (this.#state) wasm.load(this.#state);
      else wasm.init();
      this.#state = undefined;
      owner = this;
    }

    update(data: Uint8Array | string): void {
      this.#take();
      wasm.update(data);
    }

    digest(): string {
      this.#take();
      owner = undefined;
      this.#done = true;
      return wasm.digest("hex");
    }
  }

  return () => new SharedHash();
}
