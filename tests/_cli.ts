/** Runs the CLI in-process, capturing what it prints, for the CLI tests. */
import * as nodeFs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CliIO } from "../cli/command.ts";
import { runCli } from "../cli/run.ts";

/**
 * Exit code and output of `fscache <args>`; `env` replaces the environment. Without
 * `env`, the default cache root is a fresh directory removed afterwards: a command given
 * no `--root` (a push keeps its listings there) must not write to the home directory.
 */
export async function cli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const scratch = options.env ? undefined : nodeFs.mkdtempSync(join(tmpdir(), "fscache-cli-root-"));
  const io: CliIO = {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    stderrIsTTY: false,
    env: options.env ?? (scratch ? { FSCACHE_ROOT: scratch } : {}),
    cwd: options.cwd ?? "/",
  };
  try {
    const code = await runCli(args, io);
    return { code, stdout, stderr };
  } finally {
    if (scratch) nodeFs.rmSync(scratch, { recursive: true, force: true });
  }
}
