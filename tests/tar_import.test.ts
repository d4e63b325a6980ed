/** Tar import: checksums equal to tarsum --entries, diff semantics, and every hostile-archive rule. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { pack } from "tar-stream";
import { tarSum } from "../backends/tarsum_stream.ts";
import { FSCacheError } from "../core/errors.ts";
import { RecordedTable } from "../core/recorded_table.ts";
import type { EntryStat } from "../core/types.ts";
import type { ReceiveLimits } from "../transports/diffcopy/stat_validator.ts";
import { importTar } from "../transports/tar/tar_import.ts";
import { cli } from "./_cli.ts";
import { disk, listTree, recordingUpdater, tempDir } from "./_diffcopy.ts";
import { collectBytes } from "./_helpers.ts";

interface E {
  name: string;
  type?: "file" | "directory" | "symlink" | "link";
  content?: string;
  linkname?: string;
  mode?: number;
  /** Milliseconds; default 1_600_000_000_000. */
  mtime?: number;
}

async function tarOf(entries: E[]): Promise<Uint8Array> {
  const archive = pack();
  for (const e of entries) {
    const type = e.type ?? "file";
    const mode = e.mode ?? (type === "directory" ? 0o755 : 0o644);
    const header = { name: e.name, type, mode, mtime: new Date(e.mtime ?? 1_600_000_000_000), uid: 0, gid: 0 };
    if (type === "file") archive.entry(header, e.content ?? "");
    else archive.entry({ ...header, ...(e.linkname === undefined ? {} : { linkname: e.linkname }) });
  }
  archive.finalize();
  return collectBytes(archive as unknown as AsyncIterable<Uint8Array>);
}

const sample: E[] = [
  { name: "./", type: "directory" },
  { name: "./z.txt", content: "last" },
  { name: "./dir/", type: "directory" },
  { name: "./dir/b.bin", content: "b".repeat(70_000) },
  { name: "./dir/run", content: "#!/bin/sh", mode: 0o755 },
  { name: "./a.txt", content: "hello" },
  { name: "./link", type: "symlink", linkname: "a.txt" },
  { name: "./dir/hard", type: "link", linkname: "./a.txt" },
];

describe("sync --tar (tar import)", () => {
  it("imports any order, with entry checksums equal to tarsum --entries", async () => {
    using tmp = tempDir();
    const tar = await tarOf(sample);
    const updater = recordingUpdater();
    const result = await importTar([tar], { fs: disk, dest: tmp.dir, updater });
    assert.equal(result.added, 7);
    const expected = new Map<string, string>();
    await tarSum([tar], { onEntry: (name, sum) => name !== "." && expected.set(name, sum) });
    const reported = new Map(updater.changes.map((c) => [c.path, c.checksum]));
    assert.deepEqual(new Map([...reported].sort()), new Map([...expected].sort()));
    const shape = listTree(disk, tmp.dir, false).map((l) => l.replace(/ [0-9a-f]{12}$/, ""));
    assert.deepEqual(shape, [
      "a.txt 644 5",
      "dir/ 755",
      "dir/b.bin 644 70000",
      "dir/hard 644 5",
      "dir/run 755 9",
      "link -> a.txt",
      "z.txt 644 4",
    ]);
    assert.equal(readFileSync(`${tmp.dir}/dir/b.bin`, "utf8"), "b".repeat(70_000));
    assert.equal(disk.lstatSync(`${tmp.dir}/dir/hard`).ino, disk.lstatSync(`${tmp.dir}/a.txt`).ino);
    assert.equal(Math.floor(disk.lstatSync(`${tmp.dir}/z.txt`).mtimeMs), 1_600_000_000_000);
  });

  it("diff semantics: absent entries are deleted, identical files are not rewritten", async () => {
    using tmp = tempDir();
    await importTar([await tarOf(sample)], { fs: disk, dest: tmp.dir, updater: recordingUpdater() });
    const before = disk.lstatSync(`${tmp.dir}/dir/b.bin`).ino;
    const next = sample
      .filter((e) => e.name !== "./z.txt")
      .map((e) => (e.name === "./a.txt" ? { ...e, content: "HELLO!" } : e));
    const result = await importTar([await tarOf(next)], { fs: disk, dest: tmp.dir, updater: recordingUpdater() });
    assert.equal(result.deleted, 1);
    assert.equal(disk.existsSync(`${tmp.dir}/z.txt`), false);
    assert.equal(result.bytesWritten, 6, "only the changed file was written");
    assert.equal(disk.lstatSync(`${tmp.dir}/dir/b.bin`).ino, before, "the identical file was left alone");
    assert.equal(readFileSync(`${tmp.dir}/dir/hard`, "utf8"), "HELLO!");
    assert.deepEqual(
      disk.readdirSync(tmp.dir).filter((n) => n.startsWith(".fscache-tmp-")),
      [],
      "no spool left behind",
    );
  });

  it("counts as written only what reaches the snapshot: a re-import of hard links writes nothing", async () => {
    using tmp = tempDir();
    // The archive names the content under "b", the link as "a": in walk order "a" comes
    // first, so the snapshot keeps the content under "a" and each re-import re-links it.
    const linked: E[] = [
      { name: "b", content: "shared content" },
      { name: "a", type: "link", linkname: "b" },
      { name: "c", content: "other" },
    ];
    const recorded = recordingUpdater();
    const first = await importTar([await tarOf(linked)], { fs: disk, dest: tmp.dir, updater: recorded });
    assert.equal(first.bytesWritten, 19);
    // As the cache does it: the snapshot as recorded by the last import, and as found on disk.
    const previous = RecordedTable.fromEntries(
      recorded.changes.map((c) => [c.path, { checksum: c.checksum as string, stat: c.stat as EntryStat }]),
    );
    for (const target of [{ previous }, {}]) {
      const updater = recordingUpdater();
      const again = await importTar([await tarOf(linked)], { fs: disk, dest: tmp.dir, updater, ...target });
      assert.deepEqual([again.unchanged, again.bytesWritten], [3, 0], JSON.stringify(again));
    }
    const edited = linked.map((e) => (e.name === "b" ? { ...e, content: "new content!" } : e));
    const changed = await importTar([await tarOf(edited)], { fs: disk, dest: tmp.dir, updater: recordingUpdater() });
    assert.deepEqual([changed.modified, changed.bytesWritten], [2, 12], JSON.stringify(changed));
    assert.equal(readFileSync(`${tmp.dir}/a`, "utf8"), "new content!");
    assert.equal(disk.lstatSync(`${tmp.dir}/a`).ino, disk.lstatSync(`${tmp.dir}/b`).ino);
  });

  it("a file whose bytes did not change is not rewritten (only its mode and mtime); one that did is, whole", async () => {
    using tmp = tempDir();
    const first: E[] = [
      { name: "same.bin", content: "s".repeat(70_000) },
      { name: "late.bin", content: "x".repeat(70_000) },
      { name: "early.bin", content: "y".repeat(100) },
    ];
    await importTar([await tarOf(first)], { fs: disk, dest: tmp.dir, updater: recordingUpdater() });
    const inode = (path: string) => disk.lstatSync(`${tmp.dir}/${path}`).ino;
    const same = inode("same.bin");
    const later = 1_700_000_000_000;
    const second: E[] = [
      { name: "same.bin", content: "s".repeat(70_000), mtime: later, mode: 0o600 },
      // Same sizes, new mtimes; this one differs in its last byte only, past the first 64 KiB compared.
      { name: "late.bin", content: `${"x".repeat(69_999)}Z`, mtime: later },
      { name: "early.bin", content: `Y${"y".repeat(99)}`, mtime: later },
    ];
    const result = await importTar([await tarOf(second)], { fs: disk, dest: tmp.dir, updater: recordingUpdater() });
    assert.equal(result.modified, 3, JSON.stringify(result));
    assert.equal(result.bytesWritten, 70_100, "only the two changed files were written");
    assert.equal(inode("same.bin"), same, "same bytes: the file stays");
    assert.equal(disk.statSync(`${tmp.dir}/same.bin`).mtimeMs, later);
    assert.equal(disk.statSync(`${tmp.dir}/same.bin`).mode & 0o777, 0o600);
    assert.equal(readFileSync(`${tmp.dir}/late.bin`, "utf8"), `${"x".repeat(69_999)}Z`);
    assert.equal(readFileSync(`${tmp.dir}/early.bin`, "utf8"), `Y${"y".repeat(99)}`);
    assert.deepEqual(
      disk.readdirSync(tmp.dir).filter((n) => n.startsWith(".fscache-tmp-")),
      [],
      "no spool left behind",
    );
  });

  const hostile: [string, E[], string, Partial<ReceiveLimits>?][] = [
    ["absolute path", [{ name: "/etc/evil", content: "x" }], "ERR_PROTOCOL"],
    ["..", [{ name: "../evil", content: "x" }], "ERR_PROTOCOL"],
    ["unclean path", [{ name: "a//evil", content: "x" }], "ERR_PROTOCOL"],
    [
      "child of a symlink (parent escape)",
      [
        { name: "esc", type: "symlink", linkname: ".." },
        { name: "esc/evil", content: "x" },
      ],
      "ERR_PROTOCOL",
    ],
    [
      "child of a file",
      [
        { name: "f", content: "x" },
        { name: "f/evil", content: "x" },
      ],
      "ERR_PROTOCOL",
    ],
    ["hard link to an unknown path", [{ name: "h", type: "link", linkname: "nope" }], "ERR_PROTOCOL"],
    [
      "hard link to a later path",
      [
        { name: "h", type: "link", linkname: "later" },
        { name: "later", content: "x" },
      ],
      "ERR_PROTOCOL",
    ],
    ["hard link outside", [{ name: "h", type: "link", linkname: "../outside/marker" }], "ERR_PROTOCOL"],
    ["too many entries", [{ name: "a" }, { name: "b" }, { name: "c" }], "ERR_LIMIT", { maxEntries: 2 }],
    [
      "too many bytes",
      [
        { name: "a", content: "12345" },
        { name: "b", content: "678" },
      ],
      "ERR_LIMIT",
      { maxBytes: 6 },
    ],
  ];
  for (const [rule, entries, code, limits] of hostile) {
    it(`rejects ${rule}; nothing appears outside the destination`, async () => {
      using tmp = tempDir();
      disk.mkdirSync(`${tmp.dir}/outside`);
      disk.writeFileSync(`${tmp.dir}/outside/marker`, "keep");
      const dest = `${tmp.dir}/dest/snap`;
      disk.mkdirSync(dest, { recursive: true });
      const tar = await tarOf(entries);
      await assert.rejects(
        importTar([tar], { fs: disk, dest, updater: recordingUpdater() }, limits),
        (err: unknown) => err instanceof FSCacheError && err.code === code,
      );
      assert.deepEqual(disk.readdirSync(tmp.dir).sort(), ["dest", "outside"]);
      assert.deepEqual(disk.readdirSync(`${tmp.dir}/dest`), ["snap"]);
      assert.deepEqual(disk.readdirSync(`${tmp.dir}/outside`), ["marker"]);
      assert.equal(readFileSync(`${tmp.dir}/outside/marker`, "utf8"), "keep");
      assert.deepEqual(disk.readdirSync(dest), [], "nothing applied, no spool left");
    });
  }

  it("fscache sync --tar: snapshot checksum; a re-import of the same archive writes nothing", async () => {
    using tmp = tempDir();
    disk.writeFileSync(`${tmp.dir}/ctx.tar`, await tarOf(sample));
    const run = async () => {
      const r = await cli(["sync", "--tar", `${tmp.dir}/ctx.tar`, "--root", `${tmp.dir}/cache`, "--json"]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    const first = await run();
    assert.match(first.checksum, /^dir:[0-9a-f]{64}$/);
    assert.equal(first.added, 7);
    const again = await run();
    assert.equal(again.checksum, first.checksum);
    assert.deepEqual([again.added, again.modified, again.deleted, again.bytesCopied], [0, 0, 0, 0]);
    assert.equal(again.unchanged, 7);
  });

  it("keeps a time before 1970 (GNU base-256) and a PAX time's fraction of a second", async () => {
    using tmp = tempDir();
    const src = `${tmp.dir}/src`;
    disk.mkdirSync(src);
    disk.writeFileSync(`${src}/old.txt`, "old");
    disk.writeFileSync(`${src}/fine.txt`, "fine");
    execFileSync("touch", ["-d", "@-100", `${src}/old.txt`]);
    execFileSync("touch", ["-d", "@1700000000.123456789", `${src}/fine.txt`]);
    for (const format of ["gnu", "posix"]) {
      const tar = `${tmp.dir}/${format}.tar`;
      execFileSync("tar", [`--format=${format}`, "-C", src, "-cf", tar, "."]);
      const r = await cli(["sync", "--tar", tar, "--root", `${tmp.dir}/cache-${format}`, "--json"]);
      assert.equal(r.code, 0, r.stderr);
      const { path } = JSON.parse(r.stdout);
      assert.equal(disk.lstatSync(`${path}/old.txt`).mtimeMs, -100_000, format);
      const fine = disk.lstatSync(`${path}/fine.txt`).mtimeMs;
      // GNU's octal field holds whole seconds; PAX the fraction, kept to the µs (Deno: the ms).
      const want = format === "gnu" ? 1_700_000_000_000 : 1_700_000_000_123.456;
      assert.ok(Math.abs(fine - want) < 1, `${format}: ${fine}`);
    }
  });

  it("fscache sync --tar: an added entry that sorts last, wherever the archive puts it, moves only itself", async () => {
    for (const order of [
      ["a", "m", "zz"],
      ["zz", "a", "m"],
    ]) {
      using tmp = tempDir();
      const tar = `${tmp.dir}/ctx.tar`;
      const run = async (names: string[]) => {
        disk.writeFileSync(tar, await tarOf(names.map((name) => ({ name, content: name.toUpperCase() }))));
        const r = await cli(["sync", "--tar", tar, "--root", `${tmp.dir}/cache`, "--json"]);
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout);
      };
      const first = await run(["a", "m"]);
      const inode = disk.lstatSync(`${first.path}/a`).ino;
      const second = await run(order);
      assert.deepEqual([second.added, second.unchanged, second.bytesCopied], [1, 2, 2], order.join(","));
      assert.equal(disk.lstatSync(`${second.path}/a`).ino, inode, "unchanged a is not rewritten");
    }
  });
});
