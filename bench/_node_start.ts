/**
 * What Node's start-up costs on the benchmark machine, and the environment fscache is
 * timed in. Node 20 reads the certificates `NODE_EXTRA_CA_CERTS` names at every start,
 * before any script runs (fscache makes no TLS connection, so it cannot opt out): with
 * a system bundle there, that was most of `node -e 0` on a test machine. A machine
 * without the setting does not pay it, the peers (rsync, cp, openssl) never do, so
 * fscache is timed without it unless `--keep-env` is given; the cost, measured in the
 * same run, is printed with the results.
 */
import { spawnSync } from "node:child_process";
import process from "node:process";

function medianStart(env: NodeJS.ProcessEnv): number {
  const times: number[] = [];
  for (let i = 0; i < 9; i++) {
    const start = process.hrtime.bigint();
    spawnSync(process.execPath, ["-e", "0"], { env, stdio: "ignore" });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[4] as number;
}

/**
 * Measures `node -e 0` with and without `NODE_EXTRA_CA_CERTS` when it is set, removes it
 * from this process's environment (which every timed command inherits) unless the
 * command line has `--keep-env`, and returns a line saying what was done and measured.
 *
 * @example
 * ```ts
 * console.log(nodeStartEnvironment()); // before the first timed command
 * ```
 */
export function nodeStartEnvironment(): string {
  const certs = process.env.NODE_EXTRA_CA_CERTS;
  if (certs === undefined) return `node -e 0: ${medianStart(process.env).toFixed(0)} ms (median of 9)`;
  const withCerts = medianStart(process.env);
  const without = { ...process.env };
  delete without.NODE_EXTRA_CA_CERTS;
  const withoutCerts = medianStart(without);
  const costs = `node -e 0: ${withCerts.toFixed(0)} ms with NODE_EXTRA_CA_CERTS=${certs}, ${withoutCerts.toFixed(0)} ms without (medians of 9)`;
  if (process.argv.includes("--keep-env")) return `${costs}; fscache is timed with it (--keep-env)`;
  delete process.env.NODE_EXTRA_CA_CERTS;
  return `${costs}; fscache is timed without it, as where it is not set (--keep-env: with it)`;
}
