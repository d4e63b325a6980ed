/**
 * A one-line progress display on stderr for long operations: shown only when stderr
 * is a terminal, only after the operation has run for a while, and erased at the end,
 * so piped and quick runs print nothing extra.
 * @module
 */
import type { CliIO, GlobalOptions } from "./command.ts";

/** Options of {@linkcode startProgress}. */
export interface ProgressOptions {
  /** Milliseconds before the line first appears. Default 1000. */
  delay?: number;
  /** Milliseconds between redraws. Default 100. */
  interval?: number;
}

/** A running progress line. */
export interface Progress {
  /** Stops redrawing and erases the line. */
  stop(): void;
  /** Writes `lines` (ending in a newline) to stderr above the line, which is drawn again below them. */
  note(lines: string): void;
}

/**
 * A command's progress line: none under `--quiet` or `--json` (notes then go straight
 * to stderr), else {@linkcode startProgress}'s.
 *
 * @example
 * ```ts
 * const progress = commandProgress(global, io, () => `syncing ${dir}`);
 * try { await work(); } finally { progress.stop(); }
 * ```
 */
export function commandProgress(global: GlobalOptions, io: CliIO, render: () => string): Progress {
  if (global.quiet || global.json) return { stop() {}, note: (lines) => io.stderr(lines) };
  return startProgress(io, render);
}

/**
 * Redraws `render()` on stderr until stopped, when stderr is a TTY.
 *
 * @example
 * ```ts
 * const progress = startProgress(io, () => `${count} files`);
 * try { await work(); } finally { progress.stop(); }
 * ```
 */
export function startProgress(io: CliIO, render: () => string, options: ProgressOptions = {}): Progress {
  const started = Date.now();
  let shown = false;
  const draw = () => {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    io.stderr(`\r\x1b[2K${render()}  ${seconds}s`);
    shown = true;
  };
  let timer: ReturnType<typeof setInterval> | undefined;
  // Asked only once the line is due: finding out builds `process.stderr` (with Node's
  // stream modules when nothing else loaded them, 1–4 ms), which a quick run never needs.
  const delay = setTimeout(() => {
    if (!io.stderrIsTTY) return;
    draw();
    timer = setInterval(draw, options.interval ?? 100);
  }, options.delay ?? 1000);
  return {
    stop() {
      clearTimeout(delay);
      if (timer !== undefined) clearInterval(timer);
      if (shown) io.stderr("\r\x1b[2K");
      // A note after this (a warning as the cache closes) is a plain line: no line to redraw.
      shown = false;
    },
    note(lines) {
      if (!shown) return io.stderr(lines);
      // Not after the line's text, and not left where the next redraw would erase it.
      io.stderr(`\r\x1b[2K${lines}`);
      draw();
    },
  };
}
