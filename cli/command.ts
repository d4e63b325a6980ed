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
  env: Record<string, string | undefined>;
  cwd: string;
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
