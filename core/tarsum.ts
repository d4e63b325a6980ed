/**
 * TarSum (Docker `pkg/tarsum`, SPEC §4.4), independent of how the archive is read:
 * each entry's checksum is `sha256(header ‖ content)` (§4.1, with the version's
 * header), and the archive's sum is `sha256(extra ‖ sorted entry checksums)`.
 * @module
 */
import { type EntryHeader, startEntryChecksum } from "./entry_checksum.ts";
import { FSCacheError } from "./errors.ts";
import type { Sha256, Sha256Factory } from "./types.ts";

/** `0` (hashes mtime, no xattrs), `1`, or `dev` (the same header as 1, its own label). */
export type TarSumVersion = "0" | "1" | "dev";

/**
 * The label a version's sum is printed with, before `+sha256:`.
 *
 * @example
 * ```ts
 * tarSumLabel("1"); // "tarsum.v1"
 * ```
 */
export function tarSumLabel(version: TarSumVersion): string {
  switch (version) {
    case "0":
      return "tarsum";
    case "1":
      return "tarsum.v1";
    case "dev":
      return "tarsum.dev";
    default:
      throw new FSCacheError("ERR_INVALID_OPTION", `unknown tarsum version ${JSON.stringify(version)}`);
  }
}

/**
 * Accumulates the entry checksums of one archive.
 *
 * @example
 * ```ts
 * const sum = new TarSum(nodeSha256, "1");
 * const h = sum.startEntry({ name: "foo", mode: 0o644, uid: 0, gid: 0, size: 4, typeflag: "0" });
 * h.update("data");
 * sum.addEntry(h.digest());
 * sum.finish(); // "tarsum.v1+sha256:…"
 * ```
 */
export class TarSum {
  readonly #sha256: Sha256Factory;
  readonly #version: TarSumVersion;
  readonly #sums: string[] = [];

  constructor(sha256: Sha256Factory, version: TarSumVersion = "1") {
    tarSumLabel(version);
    this.#sha256 = sha256;
    this.#version = version;
  }

  /** Number of entries added so far. */
  get entries(): number {
    return this.#sums.length;
  }

  /** A hash fed with the entry's header as this version encodes it; feed the content next. */
  startEntry(header: EntryHeader): Sha256 {
    return startEntryChecksum(this.#sha256, header, { version: this.#version === "0" ? 0 : 1 });
  }

  addEntry(checksum: string): void {
    this.#sums.push(checksum);
  }

  /** The archive's sum, e.g. `tarsum.v1+sha256:<hex>`; `extra` is hashed first. */
  finish(extra?: Uint8Array | string): string {
    const hash = this.#sha256();
    if (extra !== undefined) hash.update(extra);
    for (const sum of [...this.#sums].sort()) hash.update(sum);
    return `${tarSumLabel(this.#version)}+sha256:${hash.digest()}`;
  }
}
