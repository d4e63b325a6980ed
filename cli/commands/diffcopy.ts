/**
 * `fscache diffcopy send <dir>` / `fscache diffcopy receive <dir>`: the bare diff-copy
 * protocol on stdin/stdout, no handshake, no cache — what ssh-style pipes use. Stdout
 * carries only the protocol; errors go to stderr with a non-zero exit.
 * @module
 */
import { resolve } from "node:path";
import { diskFileSystem } from "../../backends/disk_fs.ts";
import { FSCacheError } from "../../core/errors.ts";
import type { CacheUpdater } from "../../core/types.ts";
import { type DiffCopyConnection, type PacketChannel, packetChannel } from "../../transports/diffcopy/framing.ts";
import { stdioConnection } from "../../transports/diffcopy/node_streams.ts";
import { receiveDiffCopy } from "../../transports/diffcopy/receiver.ts";
import { sendDiffCopy } from "../../transports/diffcopy/sender.ts";
import { type Command, refuseTerminal, UsageError } from "../command.ts";
import { parseCount, parseSize } from "../units.ts";

/** A receive without a cache needs no checksums: a hasher that does nothing. */
const throwawayUpdater: CacheUpdater = {
  markSupported() {},
  handleChange() {},
  sha256: () => ({ update() {}, digest: () => "" }),
};

/**
 * Runs one end of the protocol over `connection`. A protocol error with nothing read
 * from the peer at all is what a one-way `send | receive` pipe gives (the end whose
 * stdin nobody writes sees it close at once): it is reported with what to connect instead.
 */
async function runEnd(
  connection: DiffCopyConnection,
  end: "send" | "receive",
  run: (channel: PacketChannel) => Promise<unknown>,
): Promise<void> {
  const channel = packetChannel(connection);
  try {
    await run(channel);
  } catch (err) {
    if (!(err instanceof FSCacheError) || err.code !== "ERR_PROTOCOL" || channel.reader.wireBytes > 0) throw err;
    const peer = end === "send" ? "receiver" : "sender";
    throw new FSCacheError(
      "ERR_PROTOCOL",
      `${err.message}: nothing arrived on stdin. 'diffcopy ${end}' needs the ${peer}'s stdout on its stdin ` +
        "(a one-way 'send | receive' pipe cannot work; use ssh, or a pipe one way and a fifo back)",
      { cause: err },
    );
  }
}

/**
 * The `diffcopy` command, over the connection `connect` opens (stdin/stdout by default).
 *
 * @example
 * ```ts
 * const command = createDiffcopyCommand(() => memoryPipe()[0]);
 * ```
 */
export function createDiffcopyCommand(connect: () => DiffCopyConnection = stdioConnection): Command {
  return {
    name: "diffcopy",
    summary: "send or receive a directory with the bare diff-copy protocol on stdin/stdout",
    usage: `Usage: fscache diffcopy send <dir>
       fscache diffcopy receive <dir> [--max-bytes SIZE] [--max-entries N]

Speaks BuildKit fsutil's diff-copy protocol on stdin/stdout (no handshake, no cache).
'receive' makes <dir> equal to the sender's tree, transferring only changed files.
The protocol goes both ways: each end's stdout must reach the other's stdin, e.g.
  mkfifo back; fscache diffcopy send src < back | ssh host fscache diffcopy receive dst > back

Options:
  --max-bytes SIZE receive: refuse trees with more file content than SIZE (e.g. 512MiB)
  --max-entries N  receive: refuse trees with more than N entries`,
    options: {
      "max-bytes": { type: "string" },
      "max-entries": { type: "string" },
    },
    async run({ positionals, values, io }) {
      const [mode, dir, ...rest] = positionals;
      if ((mode !== "send" && mode !== "receive") || dir === undefined || rest.length > 0) {
        throw new UsageError("expected 'send <dir>' or 'receive <dir>'");
      }
      const fs = diskFileSystem;
      const root = resolve(io.cwd, dir);
      if (mode === "send" && (values["max-bytes"] !== undefined || values["max-entries"] !== undefined)) {
        throw new UsageError("--max-bytes and --max-entries apply to 'receive'");
      }
      const limits: { maxBytes?: number; maxEntries?: number } = {};
      if (values["max-bytes"] !== undefined) limits.maxBytes = parseSize(values["max-bytes"] as string, "--max-bytes");
      if (values["max-entries"] !== undefined) {
        limits.maxEntries = parseCount(values["max-entries"] as string, "--max-entries");
      }
      await refuseTerminal(io, `diffcopy ${mode}`);
      if (mode === "send") {
        const onSkipped = (path: string) => io.stderr(`skipped ${path}: devices, fifos and sockets are not sent\n`);
        await runEnd(connect(), mode, (channel) => sendDiffCopy(channel, { fs, root, onSkipped }));
      } else {
        await fs.mkdir(root, { recursive: true });
        await runEnd(connect(), mode, (channel) =>
          receiveDiffCopy(channel, { dest: root, fs, updater: throwawayUpdater }, limits),
        );
      }
      return 0;
    },
  };
}

/** `fscache diffcopy` on stdin/stdout. */
export const diffcopyCommand: Command = createDiffcopyCommand();
