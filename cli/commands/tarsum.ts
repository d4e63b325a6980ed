/**
 * `fscache tarsum <file.tar|->`: Docker's TarSum of an archive, streamed.
 * @module
 */
import { closeSync, createReadStream, fstatSync, openSync, readFileSync } from "node:fs";
import { stdin } from "node:process";
import type { TarSumVersion } from "../../core/tarsum.ts";
import { type Command, UsageError } from "../command.ts";
import { entryLine } from "../entry_line.ts";

const VERSIONS = ["0", "1", "dev"];

/**
 * Prints the label, e.g. `tarsum.v1+sha256:<hex>`; `--entries` first prints
 * `<hex> <name>` per entry, in archive order; the global `--json` prints
 * `{ "tarsum": …, "entries": N }`.
 *
 * @example
 * ```sh
 * fscache tarsum layer.tar
 * docker save img | fscache tarsum --tarsum-version dev -
 * ```
 */
export const tarsumCommand: Command = {
  name: "tarsum",
  summary: "print the Docker TarSum of a tar archive",
  usage: `Usage: fscache tarsum [--tarsum-version 0|1|dev] [--extra FILE] [--entries] <file.tar|->

Prints the TarSum of an uncompressed tar archive ("-" reads standard input).

Options:
  --tarsum-version V   0, 1 (default) or dev
  --extra FILE         bytes hashed before the entry checksums
  --entries            also print "<hex> <name>" for every entry`,
  options: {
    "tarsum-version": { type: "string", default: "1" },
    extra: { type: "string" },
    entries: { type: "boolean", default: false },
  },
  async run({ values, positionals, global, io }) {
    if (positionals.length !== 1) throw new UsageError("expected one archive (or - for standard input)");
    const version = values["tarsum-version"] as string;
    if (!VERSIONS.includes(version)) throw new UsageError(`--tarsum-version must be 0, 1 or dev, not ${version}`);
    const resolve = (p: string) => (p.startsWith("/") ? p : `${io.cwd.replace(/\/$/, "")}/${p}`);
    const extraPath = values.extra as string | undefined;
    const extra = extraPath === undefined ? undefined : readFileSync(resolve(extraPath));
    const file = positionals[0] as string;
    // Opened now, so a missing or unreadable archive is an error here and not an
    // unhandled one from a stream nobody listens to yet.
    const input = file === "-" ? stdin : createReadStream("", { fd: openArchive(resolve(file)) });
    // Loaded here so the other commands never pay for the tar parser.
    const { tarSum } = await import("../../backends/tarsum_stream.ts");
    const lines: string[] = [];
    const onEntry =
      values.entries && !global.json ? (name: string, sum: string) => lines.push(entryLine(sum, name)) : undefined;
    const result = await tarSum(input, {
      version: version as TarSumVersion,
      ...(extra ? { extra } : {}),
      ...(onEntry ? { onEntry } : {}),
    });
    if (global.json) io.stdout(`${JSON.stringify({ tarsum: result.sum, entries: result.entries })}\n`);
    else io.stdout(`${lines.join("")}${result.sum}\n`);
    return 0;
  },
};

function openArchive(path: string): number {
  const fd = openSync(path, "r");
  if (fstatSync(fd).isDirectory()) {
    closeSync(fd);
    throw new UsageError(`${path} is a directory, not a tar archive`);
  }
  return fd;
}
