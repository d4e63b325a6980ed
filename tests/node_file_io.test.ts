/**
 * The hot loops' `open`, `read` and `close` (which on Node 20 call the fs binding
 * without Node's argument checks) must behave exactly as `node:fs`'s: the same bytes,
 * flags, modes and errors, and anything they do not take the short way for (byte
 * paths, other flags, odd offsets) still works, or throws, as `node:fs` does.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as fs from "node:fs";
import process from "node:process";
import { describe, it } from "node:test";
import { closeSync, fileIoSkipsChecks, openSync, readSync } from "../backends/node_file_io.ts";
import { tempDir } from "./_diffcopy.ts";

const node20 = !("Deno" in globalThis) && process.versions.node?.startsWith("20.") && process.platform !== "win32";

function errorOf(run: () => unknown): { code?: string; path?: unknown; syscall?: unknown; name: string } {
  try {
    run();
  } catch (err) {
    return err as { code?: string; path?: unknown; syscall?: unknown; name: string };
  }
  assert.fail("expected a throw");
}

describe("open, read and close for the hot loops", () => {
  it("takes the binding's short way on Node 20, node:fs elsewhere", () => {
    assert.equal(fileIoSkipsChecks, node20);
  });

  it("reads a file's bytes as fs.readSync does: whole, at a position, from the offset, at the end", () => {
    using tmp = tempDir();
    const path = `${tmp.dir}/data`;
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) & 0xff));
    fs.writeFileSync(path, bytes);
    const fd = openSync(path, "r");
    try {
      const whole = Buffer.alloc(80_000, 0xee);
      assert.equal(readSync(fd, whole, 5, 70_000, 0), 70_000);
      assert.deepEqual(whole.subarray(5, 70_005), bytes);
      assert.equal(whole[4], 0xee, "nothing written before the offset");
      assert.equal(whole[70_005], 0xee, "nothing written past what was read");
      // null: from the file's offset, which positioned reads leave where it was.
      const head = Buffer.alloc(10);
      assert.equal(readSync(fd, head, 0, 10, null), 10);
      assert.deepEqual(head, bytes.subarray(0, 10));
      assert.equal(readSync(fd, head, 0, 10, null), 10);
      assert.deepEqual(head, bytes.subarray(10, 20));
      assert.equal(readSync(fd, head, 0, 10, 69_995), 5);
      assert.equal(readSync(fd, head, 0, 10, 70_000), 0);
      // Length 0 and a Uint8Array that is not a Buffer go through as well.
      assert.equal(readSync(fd, head, 0, 0, 0), 0);
      const plain = new Uint8Array(4);
      assert.equal(readSync(fd, plain, 1, 3, 1), 3);
      assert.deepEqual([...plain], [0, ...bytes.subarray(1, 4)]);
    } finally {
      closeSync(fd);
    }
    assert.equal(errorOf(() => fs.fstatSync(fd)).code, "EBADF", "closeSync closed the descriptor");
  });

  it("opens with fs.openSync's flags and modes: r+, w, wx", () => {
    using tmp = tempDir();
    const path = `${tmp.dir}/new`;
    const fd = openSync(path, "wx", 0o640);
    fs.writeSync(fd, "hello");
    closeSync(fd);
    assert.equal(fs.statSync(path).mode & 0o777, 0o640 & ~process.umask());
    assert.equal(errorOf(() => openSync(path, "wx")).code, "EEXIST");
    const rw = openSync(path, "r+");
    fs.writeSync(rw, "J", 0);
    closeSync(rw);
    assert.equal(fs.readFileSync(path, "utf8"), "Jello");
    closeSync(openSync(path, "w"));
    assert.equal(fs.statSync(path).size, 0, "w truncates");
    // A flag this module does not know goes to node:fs: "a" appends.
    const append = openSync(path, "a");
    fs.writeSync(append, "x");
    fs.writeSync(append, "y", 0);
    closeSync(append);
    assert.equal(fs.readFileSync(path, "utf8"), "xy");
  });

  it("throws fs.openSync's errors with the code, the call and the path", () => {
    using tmp = tempDir();
    const missing = `${tmp.dir}/missing`;
    for (const flags of ["r", "r+"]) {
      const mine = errorOf(() => openSync(missing, flags));
      const theirs = errorOf(() => fs.openSync(missing, flags));
      assert.equal(mine.code, "ENOENT");
      assert.deepEqual(
        [mine.code, mine.syscall, mine.path, mine.name],
        [theirs.code, theirs.syscall, theirs.path, theirs.name],
      );
    }
    fs.mkdirSync(`${tmp.dir}/dir`);
    assert.equal(errorOf(() => openSync(`${tmp.dir}/dir`, "w")).code, "EISDIR");
    assert.equal(errorOf(() => openSync(`${tmp.dir}/dir/x/y`, "wx")).code, "ENOENT");
  });

  it("leaves what it does not check to node:fs: NUL in a path, byte paths, bad offsets and descriptors", () => {
    using tmp = tempDir();
    const path = `${tmp.dir}/data`;
    fs.writeFileSync(path, "0123456789");
    // A NUL would cut the path short in the binding; node:fs refuses it.
    assert.equal(errorOf(() => openSync(`${path}\0.txt`, "r")).code, "ERR_INVALID_ARG_VALUE");
    const byName = openSync(Buffer.from(path) as unknown as string, "r");
    const buffer = Buffer.alloc(10);
    assert.equal(readSync(byName, buffer, 0, 10, 0), 10);
    assert.equal(buffer.toString(), "0123456789");
    // Out of the buffer's bounds, fractional or negative: node:fs's errors, not a crash.
    const sameError = (mine: () => unknown, theirs: () => unknown) => {
      const code = errorOf(theirs).code;
      assert.ok(code);
      assert.equal(errorOf(mine).code, code);
    };
    sameError(
      () => readSync(byName, buffer, 5, 10, 0),
      () => fs.readSync(byName, buffer, 5, 10, 0),
    );
    sameError(
      () => readSync(byName, buffer, 1.5, 2, 0),
      () => fs.readSync(byName, buffer, 1.5, 2, 0),
    );
    sameError(
      () => readSync(byName, buffer, 0, 2, -5),
      () => fs.readSync(byName, buffer, 0, 2, -5),
    );
    closeSync(byName);
    assert.equal(errorOf(() => readSync(byName, buffer, 0, 2, 0)).code, "EBADF");
    assert.equal(errorOf(() => closeSync(byName)).code, "EBADF");
    // Flags that only look like a key of something: node:fs's error, not the binding's abort.
    sameError(
      () => openSync(path, "toString"),
      () => fs.openSync(path, "toString"),
    );
    // A mode out of range or not whole: node:fs refuses it, where the binding would take it.
    sameError(
      () => openSync(`${tmp.dir}/m1`, "wx", -1),
      () => fs.openSync(`${tmp.dir}/m1`, "wx", -1),
    );
    sameError(
      () => openSync(`${tmp.dir}/m2`, "wx", 0o644 + 0.5),
      () => fs.openSync(`${tmp.dir}/m2`, "wx", 0o644 + 0.5),
    );
    assert.equal(fs.existsSync(`${tmp.dir}/m1`) || fs.existsSync(`${tmp.dir}/m2`), false);
    sameError(
      () => closeSync(-1),
      () => fs.closeSync(-1),
    );
    sameError(
      () => closeSync(1.5),
      () => fs.closeSync(1.5),
    );
  });
});
