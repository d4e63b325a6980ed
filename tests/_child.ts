/**
 * Runs a script of tests/fixtures/ in a child process of the same runtime as the
 * test: Node runs the compiled `.js`, Deno runs the `.ts` with `run -A`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { projectRoot } from "./_helpers.ts";

/** Spawns `tests/fixtures/<name>` with `args`; stdout and stderr are piped. */
export function spawnFixture(name: string, args: string[]): ChildProcess {
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  const script = fileURLToPath(new URL(`./fixtures/${name}${ext}`, import.meta.url));
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  const [command, prefix] = deno ? [deno.execPath(), ["run", "-A", script]] : [process.execPath, [script]];
  return spawn(command, [...prefix, ...args], { cwd: projectRoot(), stdio: ["ignore", "pipe", "pipe"] });
}

/** Everything the child printed, and how it ended. */
export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Collects output until the child exits. */
export function childResult(child: ChildProcess): Promise<ChildResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Resolves once the child prints `line` on stdout (false if it exits first). */
export function waitForLine(child: ChildProcess, line: string): Promise<boolean> {
  return new Promise((resolve) => {
    let seen = "";
    const onData = (chunk: unknown) => {
      seen += String(chunk);
      if (seen.split("\n").includes(line)) {
        child.stdout?.off("data", onData);
        resolve(true);
      }
    };
    child.stdout?.on("data", onData);
    child.on("close", () => resolve(false));
  });
}
