/** Runs the CLI in-process, capturing what it prints, for the CLI tests. */
import type { CliIO } from "../cli/command.ts";
import { runCli } from "../cli/run.ts";

/** Exit code and output of `fscache <args>`; `env` replaces the environment. */
export async function cli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIO = {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    stderrIsTTY: false,
    env: options.env ?? {},
    cwd: options.cwd ?? "/",
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}
