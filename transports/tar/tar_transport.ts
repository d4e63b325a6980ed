/**
 * Tar import as an fscache {@linkcode Transport}: each `copy` opens the archive (how
 * is the caller's business: a file, stdin, an HTTP body) and imports it.
 * @module
 */
import type { TarInput } from "../../backends/tarsum_stream.ts";
import type { CopyRequest, Transport } from "../../core/types.ts";
import type { ReceiveLimits } from "../diffcopy/stat_validator.ts";
import { importTar, type TarImportResult } from "./tar_import.ts";

/**
 * A transport that fills each snapshot from a tar stream.
 *
 * @example
 * ```ts
 * cache.registerTransport("tar", new TarTransport(() => createReadStream("ctx.tar")));
 * await using src = await cache.syncFrom({ key: "ctx-1", transport: "tar" });
 * ```
 */
export class TarTransport implements Transport {
  readonly #open: (request: CopyRequest) => TarInput;
  readonly #limits: Partial<ReceiveLimits>;
  /** What the last copy did. */
  lastResult: TarImportResult | undefined;

  constructor(open: (request: CopyRequest) => TarInput, limits: Partial<ReceiveLimits> = {}) {
    this.#open = open;
    this.#limits = limits;
  }

  async copy(request: CopyRequest): Promise<void> {
    this.lastResult = await importTar(this.#open(request), request, this.#limits);
  }
}
