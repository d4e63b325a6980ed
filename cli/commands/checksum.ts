/**
 * `fscache checksum <dir>`: the `dir:` checksum Docker's `COPY <dir>` keys a local
 * directory on, hashed in worker threads.
 * @module
 */
import { checksumWithWorkers, closeScanWorkers } from "../../backends/scan_pool.ts";
import { type Command, UsageError } from "../command.ts";
import { entryLine } from "../entry_line.ts";

/**
 * Prints `dir:<hex>`; `--entries` adds `<hex> <path>` per entry (walk order); the
 * global `--json` prints `{ "checksum": …, "entries": N }`.
 *
 * @example
 * ```sh
 * fscache checksum ./context          # dir:7b1b21eb…
 * fscache checksum --json ./context   # {"checksum":"dir:…","entries":2}
 * ```
 */
export const checksumCommand: Command = {
  name: "checksum",
  summary: "print the Docker checksum of a local directory",
  usage: `Usage: fscache checksum [--entries] [--json] <dir>

Prints the dir: checksum Docker's COPY <dir> keys the directory on.

Options:
  --entries   also print "<hex> <path>" for every entry`,
  options: { entries: { type: "boolean", default: false } },
  async run({ values, positionals, global, io }) {
    if (positionals.length !== 1) throw new UsageError("expected one directory");
    const dir = positionals[0] as string;
    const root = dir.startsWith("/") ? dir : `${io.cwd.replace(/\/$/, "")}/${dir}`;
    try {
      // The plain checksum needs no paths, stats or tree: the scan keeps checksums only.
      if (!values.entries) {
        const { checksum, entries } = await checksumWithWorkers(root, { useCallingThread: true });
        io.stdout(global.json ? `${JSON.stringify({ checksum, entries })}\n` : `${checksum}\n`);
        return 0;
      }
      // Only --entries needs the tree (and its modules, loaded here so the plain checksum starts sooner).
      const [{ scanWithWorkers }, { nodeSha256 }] = await Promise.all([
        import("../../backends/worker_scanner.ts"),
        import("../../backends/node_sha256.ts"),
      ]);
      const tree = await scanWithWorkers(root, nodeSha256, { useCallingThread: true });
      const checksum = tree.hash(".") as string;
      if (global.json) {
        io.stdout(`${JSON.stringify({ checksum, entries: tree.size })}\n`);
        return 0;
      }
      const lines: string[] = [];
      for (const [path, entry] of tree.entries()) lines.push(entryLine(entry.checksum, path));
      lines.push(`${checksum}\n`);
      io.stdout(lines.join(""));
    } finally {
      await closeScanWorkers();
    }
    return 0;
  },
};
