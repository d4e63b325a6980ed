/**
 * Where a file's content from a tar goes on import: compared, as it streams, with the
 * file of the same size the snapshot already holds, and spooled only from the first
 * byte that differs (with the equal part copied over then). A file whose bytes are all
 * the same is never rewritten: an archive that differs in a file's mtime alone writes
 * nothing. Holes of sparse entries are left as holes in the spool file.
 * @module
 */
import type { FileSystem } from "../../core/file_system.ts";

/** The calls a content sink makes. */
type ContentFs = Pick<FileSystem, "openSync" | "readSync" | "writeSync" | "closeSync">;

/** What the import keeps of a file's content once the entry has ended. */
export interface ContentOutcome {
  /** The spool file holding the new content; absent when the snapshot's file already has it. */
  spool?: string;
  /** Bytes written to the spool (copied equal prefix included; holes excluded). */
  written: number;
}

/** How a file's content arrives: chunks, some of them holes (zeros not stored). */
export interface ContentSink {
  data(chunk: Uint8Array, hole?: boolean): void;
  /** Ends the content; the descriptors it opened are closed by now. */
  end(): ContentOutcome;
  /** Closes what is still open (the import failed). */
  abort(): void;
}

/**
 * What comparing reads the snapshot's file into: one for all files (a tar's entries
 * come one after another), so comparing thousands of files touches no fresh memory.
 */
let shared: Uint8Array | undefined;

/**
 * A sink for one file's content. `existing` is the snapshot's file of the same size
 * (a plain file with one link) to compare with, if there is one; `spool` the path to
 * create when the content differs from it (or when there is nothing to compare with).
 *
 * @example
 * ```ts
 * const sink = fileContent(fs, "/snap/a.txt", "/snap/.tmp-tar/7");
 * sink.data(chunk);
 * const { spool, written } = sink.end(); // spool undefined: same bytes as before
 * ```
 */
export function fileContent(fs: ContentFs, existing: string | undefined, spool: string): ContentSink {
  let compared: number | undefined = existing === undefined ? undefined : fs.openSync(existing, "r");
  let out: number | undefined;
  let position = 0;
  let written = 0;
  /** Whether the content so far ends in a hole (which leaves the spool file short). */
  let endsInHole = false;
  if (existing !== undefined) shared ??= new Uint8Array(64 * 1024);
  const scratch = shared;
  const openSpool = () => {
    out = fs.openSync(spool, "wx", 0o600);
    if (compared === undefined) return;
    // The content so far equals the snapshot's file: copy that part over, then stop comparing.
    const buffer = scratch as Uint8Array;
    for (let at = 0; at < position; ) {
      const n = fs.readSync(compared, buffer, 0, Math.min(buffer.length, position - at), at);
      if (n === 0) break;
      writeAll(fs, out, buffer.subarray(0, n), at);
      at += n;
      written += n;
    }
    fs.closeSync(compared);
    compared = undefined;
  };
  const same = (chunk: Uint8Array): boolean => {
    const buffer = scratch as Uint8Array;
    for (let at = 0; at < chunk.length; ) {
      const want = Math.min(buffer.length, chunk.length - at);
      const n = fs.readSync(compared as number, buffer, 0, want, position + at);
      if (n !== want) return false;
      for (let i = 0; i < n; i++) if (buffer[i] !== chunk[at + i]) return false;
      at += n;
    }
    return true;
  };
  const close = () => {
    // Forgotten before closing: a close that fails has still released the descriptor.
    const fds = [compared, out];
    compared = undefined;
    out = undefined;
    for (const fd of fds) if (fd !== undefined) fs.closeSync(fd);
  };
  if (existing === undefined) openSpool();
  return {
    data(chunk, hole = false) {
      if (compared !== undefined && out === undefined) {
        if (same(chunk)) {
          position += chunk.length;
          return;
        }
        openSpool();
      }
      if (!hole) {
        writeAll(fs, out as number, chunk, position);
        written += chunk.length;
      }
      position += chunk.length;
      endsInHole = hole && chunk.length > 0;
    },
    end() {
      const spooled = out !== undefined;
      // A hole at the end: its last byte written gives the file its size (no ftruncate
      // in every file system this runs on).
      if (out !== undefined && endsInHole) writeAll(fs, out, new Uint8Array(1), position - 1);
      close();
      return spooled ? { spool, written } : { written };
    },
    abort: close,
  };
}

function writeAll(fs: ContentFs, fd: number, bytes: Uint8Array, position: number): void {
  for (let o = 0; o < bytes.length; ) o += fs.writeSync(fd, bytes, o, bytes.length - o, position + o);
}
