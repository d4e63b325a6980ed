/**
 * The stdio protocol commands wired wrong. `diffcopy send`, `diffcopy receive` and
 * `serve --stdio` speak a binary protocol on stdin and stdout: run by hand in a
 * terminal, they refuse at once (exit 2) instead of printing binary frames there or
 * waiting for input that never comes. And the protocol goes both ways, so an end whose
 * stdin closes before anything arrives (a one-way `send | receive` pipe) says what to
 * connect instead.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as nodeFs from "node:fs";
import { describe, it } from "node:test";
import { type CliIO, UsageError } from "../cli/command.ts";
import { createDiffcopyCommand } from "../cli/commands/diffcopy.ts";
import { FSCacheError } from "../core/errors.ts";
import type { DiffCopyConnection } from "../transports/diffcopy/framing.ts";
import { PacketType, packet } from "../transports/diffcopy/packet.ts";
import { encodeFrame } from "../transports/diffcopy/packet_writer.ts";
import { tempDir } from "./_diffcopy.ts";
import { shellQuote } from "./_helpers.ts";
import { cliCommand } from "./_processes.ts";

/**
 * Runs `diffcopy` in-process with stdin and stdout reported as `tty` says, over the
 * connection `connect` opens (by default one that fails the test if it is ever opened);
 * resolves with what it threw.
 */
async function diffcopyOnTerminal(
  args: string[],
  tty: { stdin: boolean; stdout: boolean },
  connect: () => DiffCopyConnection = () => assert.fail("the protocol must not start on a terminal"),
): Promise<unknown> {
  const io: CliIO = {
    stdout: () => assert.fail("the protocol goes to the connection, nothing to stdout"),
    stderr: () => {},
    stderrIsTTY: false,
    stdioTTY: async () => tty,
    env: {},
    cwd: "/",
  };
  const command = createDiffcopyCommand(connect);
  const global = { root: "/nonexistent", json: false, quiet: false };
  return await command.run({ positionals: args, values: {}, global, io }).then(
    () => assert.fail("expected a refusal"),
    (err: unknown) => err,
  );
}

/** Runs the CLI as a child under a real pseudo-terminal (util-linux `script`), with `redirects` for sh. */
function underTerminal(args: string[], redirects = ""): { code: number | null; output: string } {
  const [command, prefix] = cliCommand();
  const line = `${[command, ...prefix, ...args].map(shellQuote).join(" ")} ${redirects}`;
  const r = spawnSync("script", ["-qec", line, "/dev/null"], { encoding: "utf8", timeout: 30_000 });
  if (r.error) throw r.error;
  return { code: r.status, output: r.stdout.replaceAll("\r\n", "\n") };
}

describe("the stdio protocol commands wired wrong", () => {
  it("diffcopy send and receive refuse a terminal on stdout or stdin, naming which", async () => {
    using tmp = tempDir();
    const out = await diffcopyOnTerminal(["send", tmp.dir], { stdin: false, stdout: true });
    assert.ok(out instanceof UsageError);
    assert.match(out.message, /^stdout is a terminal: 'diffcopy send' speaks a binary protocol on stdin and stdout/);
    const inp = await diffcopyOnTerminal(["send", tmp.dir], { stdin: true, stdout: false });
    assert.match((inp as Error).message, /^stdin is a terminal: 'diffcopy send'/);
    const dest = `${tmp.dir}/dest`;
    const receive = await diffcopyOnTerminal(["receive", dest], { stdin: true, stdout: true });
    assert.match((receive as Error).message, /^stdout is a terminal: 'diffcopy receive'/);
    assert.equal(nodeFs.existsSync(dest), false, "refused before making its directory");
  });

  it("under a real terminal they exit 2 with the reason and the usage, having done nothing", () => {
    using tmp = tempDir();
    nodeFs.writeFileSync(`${tmp.dir}/a`, "a");
    const send = underTerminal(["diffcopy", "send", tmp.dir]);
    assert.equal(send.code, 2, send.output);
    assert.match(send.output, /stdout is a terminal: 'diffcopy send'[^\n]*\n\nUsage: fscache diffcopy send <dir>/);
    // stdout to a file, stdin still the terminal
    const frames = `${tmp.dir}/frames`;
    const sendIn = underTerminal(["diffcopy", "send", tmp.dir], `> ${shellQuote(frames)}`);
    assert.equal(sendIn.code, 2, sendIn.output);
    assert.match(sendIn.output, /stdin is a terminal: 'diffcopy send'/);
    assert.equal(nodeFs.statSync(frames).size, 0);
    const root = `${tmp.dir}/cache`;
    const serve = underTerminal(["serve", "--stdio", "--root", root]);
    assert.equal(serve.code, 2, serve.output);
    assert.match(serve.output, /stdout is a terminal: 'serve --stdio'/);
    assert.equal(nodeFs.existsSync(root), false, "refused before opening the cache");
  });

  it("with neither a terminal the protocol runs: a sender that says nothing is a protocol error", () => {
    using tmp = tempDir();
    const receive = underTerminal(
      ["diffcopy", "receive", `${tmp.dir}/dest`],
      `< /dev/null > ${shellQuote(`${tmp.dir}/reqs`)}`,
    );
    assert.equal(receive.code, 1, receive.output);
    assert.doesNotMatch(receive.output, /is a terminal/);
    assert.match(receive.output, /ERR_PROTOCOL/);
  });

  it("an end whose stdin closes before anything arrives says the other end's stdout must reach it", async () => {
    using tmp = tempDir();
    const nothing = (): DiffCopyConnection => ({
      readable: new ReadableStream({ start: (c) => c.close() }),
      writable: new WritableStream(),
    });
    const neither = { stdin: false, stdout: false };
    const send = await diffcopyOnTerminal(["send", tmp.dir], neither, nothing);
    assert.ok(send instanceof FSCacheError && send.code === "ERR_PROTOCOL", String(send));
    assert.match(
      send.message,
      /^connection closed before FIN: nothing arrived on stdin\. 'diffcopy send' needs the receiver's stdout on its stdin \(a one-way 'send \| receive' pipe cannot work/,
    );
    const receive = await diffcopyOnTerminal(["receive", `${tmp.dir}/dest`], neither, nothing);
    assert.ok(receive instanceof FSCacheError && receive.code === "ERR_PROTOCOL", String(receive));
    assert.match(
      receive.message,
      /nothing arrived on stdin\. 'diffcopy receive' needs the sender's stdout on its stdin/,
    );
    // A peer that did answer, wrongly, gets the protocol error as it is.
    const wrong = (): DiffCopyConnection => ({
      readable: new ReadableStream({
        start: (c) => {
          c.enqueue(encodeFrame(packet(PacketType.REQ, { id: 999 })));
          c.close();
        },
      }),
      writable: new WritableStream(),
    });
    const answered = await diffcopyOnTerminal(["send", tmp.dir], neither, wrong);
    assert.ok(answered instanceof FSCacheError, String(answered));
    assert.equal(answered.message, "REQ for unknown or repeated id 999");
  });
});
