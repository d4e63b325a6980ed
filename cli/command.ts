/**
 * What a CLI command is: a name, its options (node's `util.parseArgs` config), and
 * a `run` that gets the parsed values. Commands print through `io`, so tests run
 * them in-process and capture the output.
 * @module
 */
import type { ParseArgsConfig } from "node:util";

/** Where a command reads and writes. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** True when stderr is a terminal (progress bars go there only then). */
  stderrIsTTY: boolean;
  /**
   * Which of stdin and stdout are terminals. Commands that speak the binary protocol on
   * them refuse a terminal ({@linkcode refuseTerminal}). Absent: neither is.
   */
  stdioTTY?(): Promise<{ stdin: boolean; stdout: boolean }>;
  env: Record<string, string | undefined>;
  cwd: string;
  /**
   * Makes `dir` the process's working directory for the rest of the run. Only where the
   * command owns its process (not in-process tests): a sync or push then walks its
   * source by relative paths (`WalkOptions.cwd`). Everything the command was given is
   * resolved against {@linkcode cwd} before.
   */
  enter?(dir: string): void;
}

/** Options every command accepts. */
export interface GlobalOptions {
  /** Cache root (`--root`, else `$FSCACHE_ROOT`, `$XDG_CACHE_HOME/fscache`, `~/.cache/fscache`). */
  root: string;
  json: boolean;
  quiet: boolean;
}

/** What `run` gets. */
export interface CommandContext {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  global: GlobalOptions;
  io: CliIO;
}

/** One `fscache <name>` command. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Usage text for `--help` and usage errors, without the global options. */
  usage: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  /** Returns the exit code (0 when omitted). */
  run(ctx: CommandContext): Promise<number | undefined>;
}

/**
 * A command as `cli/commands/index.ts` lists it: the command itself, or its name and
 * summary plus a `load` that imports its module only when it runs (`fscache --help`
 * lists commands without loading any of them).
 *
 * @example
 * ```ts
 * const entry: CommandEntry = { name: "du", summary: "bytes held", load: async () => (await import("./du.ts")).du };
 * ```
 */
export type CommandEntry = Command | { name: string; summary: string; load(): Promise<Command> };

/**
 * The command an entry stands for, its module loaded if need be.
 *
 * @example
 * ```ts
 * const command = await loadCommand(commands[0]);
 * ```
 */
export async function loadCommand(entry: CommandEntry): Promise<Command> {
  return "load" in entry ? await entry.load() : entry;
}

/**
 * Bad arguments: the CLI prints the message and the command's usage to stderr, exit 2.
 *
 * @example
 * ```ts
 * if (ctx.positionals.length !== 1) throw new UsageError("expected one directory");
 * ```
 */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * Throws a {@linkcode UsageError} when stdin or stdout is a terminal, for a command that
 * speaks the binary diff-copy protocol on them: on a terminal its output is noise and
 * its input never comes (as `tar` refuses to write an archive to one).
 *
 * @example
 * ```ts
 * await refuseTerminal(io, "diffcopy send"); // then: sendDiffCopy(stdioConnection(), …)
 * ```
 */
export async function refuseTerminal(io: CliIO, command: string): Promise<void> {
  const tty = await io.stdioTTY?.();
  const end = tty?.stdout ? "stdout" : tty?.stdin ? "stdin" : undefined;
  if (end === undefined) return;
  throw new UsageError(
    `${end} is a terminal: '${command}' speaks a binary protocol on stdin and stdout; ` +
      "connect both to its peer (through ssh, or a pipe one way and a fifo back)",
  );
}

/**
 * Checks the positional arguments against the names a command takes: all of
 * `required`, then at most `optional.length` more. Throws a {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * const [key, path] = positionalArgs(ctx.positionals, ["key"], ["path"]);
 * ```
 */
export function positionalArgs(
  positionals: string[],
  required: string[],
  optional: string[] = [],
): (string | undefined)[] {
  if (positionals.length < required.length) {
    throw new UsageError(
      `missing ${required
        .slice(positionals.length)
        .map((n) => `<${n}>`)
        .join(" ")}`,
    );
  }
  if (positionals.length > required.length + optional.length) {
    const extra = positionals.slice(required.length + optional.length);
    throw new UsageError(`unexpected argument${extra.length > 1 ? "s" : ""}: ${extra.join(" ")}`);
  }
  return [...required, ...optional].map((_, i) => positionals[i]);
}
