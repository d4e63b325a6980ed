/**
 * The diff-copy receiver as an fscache {@linkcode Transport}: each `copy` opens a
 * connection to the sender (how is the caller's business: TCP, stdio, WebSocket) and
 * receives the tree into the snapshot.
 * @module
 */
import type { CopyRequest, Transport } from "../../core/types.ts";
import type { DiffCopyConnection } from "./framing.ts";
import { type ReceiveOptions, type ReceiveResult, receiveDiffCopy } from "./receiver.ts";

/** Opens the connection a copy receives over. */
export type DiffCopyConnect = (request: CopyRequest) => DiffCopyConnection | Promise<DiffCopyConnection>;

/**
 * A transport that receives each snapshot with the diff-copy protocol.
 *
 * @example
 * ```ts
 * cache.registerTransport("diffcopy", new DiffCopyTransport((req) => req.id.connection as DiffCopyConnection));
 * ```
 */
export class DiffCopyTransport implements Transport {
  readonly #connect: DiffCopyConnect;
  readonly #options: ReceiveOptions;
  /** What the last copy did. */
  lastResult: ReceiveResult | undefined;

  /** `options.earlyDirs` defaults to `true` here: a failed copy leaves the snapshot stale anyway. */
  constructor(connect: DiffCopyConnect, options: ReceiveOptions = {}) {
    this.#connect = connect;
    this.#options = { earlyDirs: true, ...options };
  }

  async copy(request: CopyRequest): Promise<void> {
    const connection = await this.#connect(request);
    this.lastResult = await receiveDiffCopy(connection, request, this.#options);
  }
}
