/**
 * The `fscache` command line: global options, dispatch to `cli/commands/`, and the
 * exit-code contract (0 ok, 1 runtime error with its code, 2 bad arguments).
 * @module
 */
import { Buffer } from "node:buffer";
import { writeSync } from "node:fs";
import { homedir } from "node:os";
import { chdir, cwd, env, stderr, stdout } from "node:process";
import { parseArgs } from "node:util";
import { describeError, errorCode, FSCacheError } from "../core/errors.ts";
import { type CliIO, type Command, type GlobalOptions, loadCommand, UsageError } from "./command.ts";
import { commands } from "./commands/index.ts";
import { VERSION } from "./version.ts";

const globalOptions = {
  root: { type: "string" },
  json: { type: "boolean", default: false },
  quiet: { type: "boolean", short: "q", default: false },
  help: { type: "boolean", short: "h", default: false },
  version: { type: "boolean", short: "V", default: false },
} as const;

const GLOBAL_USAGE = `Global options:
  --root DIR     cache root (default $FSCACHE_ROOT, else $XDG_CACHE_HOME/fscache, else ~/.cache/fscache)
  --json         machine-readable output
  -q, --quiet    print only what was asked for
  -h, --help     show help
  -V, --version  show the version`;

/** The cache root the options and environment select. */
export function defaultRoot(env: Record<string, string | undefined>): string {
  if (env.FSCACHE_ROOT) return env.FSCACHE_ROOT;
  // The XDG base directory spec: a relative path there is invalid and to be ignored.
  if (env.XDG_CACHE_HOME?.startsWith("/")) return `${env.XDG_CACHE_HOME}/fscache`;
  return `${env.HOME || homedir()}/.cache/fscache`;
}

function mainUsage(): string {
  const width = Math.max(0, ...commands.map((c) => c.name.length));
  const list = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n");
  return `Usage: fscache <command> [options]\n\nCommands:\n${list}\n\n${GLOBAL_USAGE}\n\nRun 'fscache <command> --help' for a command's options.\n`;
}

function commandUsage(command: Command): string {
  return `${command.usage.trimEnd()}\n\n${GLOBAL_USAGE}\n`;
}

/**
 * Runs the CLI with `argv` (without the runtime and script) and returns the exit code.
 *
 * @example
 * ```ts
 * const code = await runCli(["du", "--json"], io);
 * ```
 */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const index = commandIndex(argv);
  const name = index === -1 ? undefined : argv[index];
  const entry = commands.find((c) => c.name === name);
  if (name !== undefined && !entry) {
    io.stderr(`fscache: unknown command ${JSON.stringify(name)}\n\n${mainUsage()}`);
    return 2;
  }
  const command = entry ? await loadCommand(entry) : undefined;
  const rest = index === -1 ? argv : [...argv.slice(0, index), ...argv.slice(index + 1)];
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...globalOptions, ...(command?.options ?? {}) },
      allowPositionals: command !== undefined,
      strict: true,
    });
  } catch (err) {
    io.stderr(`fscache: ${describeError(err)}\n\n${command ? commandUsage(command) : mainUsage()}`);
    return 2;
  }
  const values = parsed.values as Record<string, string | boolean | (string | boolean)[] | undefined>;
  if (values.version) {
    io.stdout(`fscache ${VERSION}\n`);
    return 0;
  }
  if (!command || values.help) {
    const text = command ? commandUsage(command) : mainUsage();
    if (command || values.help) {
      io.stdout(text);
      return 0;
    }
    io.stderr(text);
    return 2;
  }
  const global: GlobalOptions = {
    root: (values.root as string | undefined) ?? defaultRoot(io.env),
    json: values.json === true,
    quiet: values.quiet === true,
  };
  try {
    if (global.root === "") throw new UsageError("--root must not be empty");
    return (await command.run({ values, positionals: parsed.positionals, global, io })) ?? 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`fscache ${command.name}: ${err.message}\n\n${commandUsage(command)}`);
      return 2;
    }
    const code =
      err instanceof FSCacheError || typeof (err as { code?: unknown })?.code === "string"
        ? (err as { code: string }).code
        : "ERR_UNEXPECTED";
    // System errors' messages begin with their code already ("ENOENT: no such file…").
    const message = describeError(err);
    io.stderr(`fscache ${command.name}: ${message.startsWith(`${code}: `) ? message : `${code}: ${message}`}\n`);
    return 1;
  }
}

/** Where the command name is: the first argument that is neither an option nor a global option's value. */
function commandIndex(argv: string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") return i + 1 < argv.length ? i + 1 : -1;
    if (!arg.startsWith("-")) return i;
    const name = arg.replace(/^--?/, "");
    const option = globalOptions[name as keyof typeof globalOptions];
    if (option?.type === "string") i++;
  }
  return -1;
}

/** Set once descriptor 1 would not take a write at once: from then on, all goes through `process.stdout`. */
let stdoutStream = false;
/** Set once the reader of standard output went away: what is left to print is dropped. */
let stdoutGone = false;

/**
 * Writes `text` to descriptor 1 itself. `process.stdout` is built on first use, and
 * building it (a stream over a file, a pipe or a terminal, with the stream modules it
 * loads) cost a command 3–5 ms to a file and ~8 ms to a pipe here, against ~0.5 ms for
 * the write. On Linux `process.stdout` writes files, pipes and terminals synchronously
 * too, so the output is the same. A descriptor that would block (a non-blocking pipe
 * that is full) gets the rest through `process.stdout`, which waits for it, and every
 * later write after it, in order; a reader that went away (`EPIPE`) ends the output.
 *
 * @example
 * ```ts
 * writeStdout("dir:4f2c…\n");
 * ```
 */
export function writeStdout(text: string): void {
  if (stdoutGone) return;
  if (stdoutStream) {
    stdout.write(text);
    return;
  }
  const bytes = Buffer.from(text, "utf8");
  let done = 0;
  try {
    while (done < bytes.length) done += writeSync(1, bytes, done, bytes.length - done);
  } catch (err) {
    const code = errorCode(err);
    if (code === "EPIPE") {
      stdoutGone = true;
      return;
    }
    if (code !== "EAGAIN") throw err;
    stdoutStream = true;
    stdout.write(bytes.subarray(done));
  }
}

/** The process's own streams and environment. */
export function processIO(): CliIO {
  return {
    stdout: writeStdout,
    stderr: (text) => void stderr.write(text),
    // Read only where a progress bar may be shown: making `process.stderr` costs a
    // quiet run ~1 ms here for nothing.
    get stderrIsTTY() {
      return stderr.isTTY === true;
    },
    stdioTTY: async () => (await import("./stdio_tty.ts")).stdioTTY(),
    env,
    cwd: cwd(),
    enter: (dir) => {
      try {
        chdir(dir);
      } catch {
        // Then the walk goes by absolute paths, as anywhere else.
      }
    },
  };
}
