/**
 * The progress line of long commands: drawn on stderr only when it is a terminal and
 * only once the command has run for a while, erased at the end, kept below the notes
 * written meanwhile; a quick or piped run prints nothing extra and never asks what
 * stderr is.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CliIO } from "../cli/command.ts";
import { startProgress } from "../cli/progress.ts";
import { pollUntil, sleep } from "./_helpers.ts";

/** An io whose stderr is recorded and whose terminal check is counted. */
function fakeIO(tty: boolean): { io: CliIO; written: string[]; asked: () => number } {
  const written: string[] = [];
  let asked = 0;
  const io: CliIO = {
    stdout: () => {},
    stderr: (text) => void written.push(text),
    get stderrIsTTY() {
      asked++;
      return tty;
    },
    env: {},
    cwd: "/",
  };
  return { io, written, asked: () => asked };
}

describe("progress line", () => {
  it("on a terminal, appears after the delay, redraws, and is erased when stopped", async () => {
    const { io, written } = fakeIO(true);
    let count = 0;
    const progress = startProgress(io, () => `${++count} files`, { delay: 30, interval: 10 });
    await sleep(10);
    assert.deepEqual(written, [], "nothing before the delay");
    // Polled, not slept for: a pause past both timers ran stop() before the first redraw.
    await pollUntil(5000, () => written.length >= 2);
    progress.stop();
    assert.ok(written.length >= 3, `redrawn: ${JSON.stringify(written)}`);
    for (const line of written.slice(0, -1)) assert.match(line, /^\r\x1b\[2K\d+ files {2}\d+\.\ds$/);
    assert.equal(written.at(-1), "\r\x1b[2K", "the line is erased at the end");
    const drawn = written.length;
    await sleep(30);
    assert.equal(written.length, drawn, "no redraw after stop");
  });

  it("writes a note above the line, which is drawn again below it; before the line, the note alone", async () => {
    const { io, written } = fakeIO(true);
    const progress = startProgress(io, () => "7 files", { delay: 20, interval: 1000 });
    progress.note("early\n");
    assert.deepEqual(written, ["early\n"]);
    await pollUntil(5000, () => written.length >= 2);
    progress.note("skipped a\n");
    progress.stop();
    assert.deepEqual(
      written.map((w) => w.replace(/ {2}\d+\.\ds$/, "")),
      ["early\n", "\r\x1b[2K7 files", "\r\x1b[2Kskipped a\n", "\r\x1b[2K7 files", "\r\x1b[2K"],
    );
  });

  it("prints nothing when stderr is not a terminal", async () => {
    const { io, written, asked } = fakeIO(false);
    const progress = startProgress(io, () => "x", { delay: 10, interval: 5 });
    await sleep(50);
    progress.stop();
    assert.deepEqual(written, []);
    assert.equal(asked(), 1, "asked once, when the line was due");
  });

  it("a run shorter than the delay prints nothing and never asks what stderr is", async () => {
    const { io, written, asked } = fakeIO(true);
    const progress = startProgress(io, () => "x", { delay: 40 });
    await sleep(5);
    progress.stop();
    await sleep(60);
    assert.deepEqual(written, []);
    assert.equal(asked(), 0);
  });
});
