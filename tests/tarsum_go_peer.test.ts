/**
 * TarSum and tar import against Docker's own `pkg/tarsum` (built from Go at test time)
 * on archives GNU tar writes here: GNU, old GNU and PAX formats, sparse files in every
 * layout GNU tar writes (old GNU `S` with extension blocks, PAX 0.0, 0.1 and 1.0), long
 * names, links, and PAX records with empty values.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import { cli } from "./_cli.ts";
import { tempDir } from "./_diffcopy.ts";
import { tarsumPeer } from "./_processes.ts";

const MiB = 1024 * 1024;

/** Writes `pieces` ([offset, length]) of a `size`-byte file and leaves the rest holes. */
function sparseFile(path: string, size: number, pieces: [number, number][]): void {
  const fd = fs.openSync(path, "w");
  try {
    fs.ftruncateSync(fd, size);
    for (const [offset, length] of pieces) {
      fs.writeSync(fd, new Uint8Array(length).fill(0x41 + (offset % 23)), 0, length, offset);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** A tree with sparse files (few and many pieces, all hole), a long name, links, plain files and odd times. */
function fixtureTree(root: string): void {
  fs.mkdirSync(`${root}/t/${"deep-".repeat(25)}dir`, { recursive: true });
  sparseFile(`${root}/t/few.bin`, 5 * MiB, [
    [0, 4096],
    [MiB, 4096],
    [5 * MiB - 4096, 4096],
  ]);
  // Ten pieces: more than an old GNU header holds, so extension blocks follow it.
  sparseFile(
    `${root}/t/many.bin`,
    40 * 65536,
    Array.from({ length: 10 }, (_, i): [number, number] => [i * 4 * 65536, 4096]),
  );
  sparseFile(`${root}/t/hole.bin`, MiB, []);
  fs.writeFileSync(`${root}/t/${"deep-".repeat(25)}dir/plain.txt`, "plain\n");
  fs.symlinkSync("few.bin", `${root}/t/link`);
  fs.linkSync(`${root}/t/hole.bin`, `${root}/t/hard`);
  // Before 1970 (GNU tar writes base-256 then), and with a fraction of a second (PAX keeps it).
  fs.writeFileSync(`${root}/t/old.txt`, "old\n");
  execFileSync("touch", ["-d", "@-100", `${root}/t/old.txt`]);
  fs.writeFileSync(`${root}/t/fine.txt`, "fine\n");
  execFileSync("touch", ["-d", "@1700000000.123456789", `${root}/t/fine.txt`]);
}

/** GNU tar's archive of `root/t` in `format` (extra options after it). */
function gnuTar(root: string, name: string, format: string[]): string {
  const archive = `${root}/${name}.tar`;
  try {
    execFileSync("tar", ["-S", "-cf", archive, ...format, "-C", `${root}/t`, "."], { stdio: "pipe" });
  } catch (err) {
    throw new Error(`these tests need GNU tar (Debian's tar package): ${(err as Error).message}`);
  }
  return archive;
}

const FORMATS: [name: string, options: string[]][] = [
  ["gnu", ["--format=gnu"]],
  ["oldgnu", ["--format=oldgnu"]],
  ["pax-1.0", ["--format=pax"]],
  ["pax-0.0", ["--format=pax", "--sparse-version=0.0"]],
  ["pax-0.1", ["--format=pax", "--sparse-version=0.1"]],
  // Records with empty values leave the header's own field (Go's mergePAX skips them).
  // Without the long names: an empty `path` would leave two of them cut to the same 100
  // bytes, and Docker orders entries of equal names by an inconsistent comparison.
  ["pax-empty-records", ["--format=pax", "--pax-option=SCHILY.xattr.user.empty:=,path:=,uname:=", "--exclude=deep-*"]],
];

/** Docker's answer: the label, then "<hex> <name>" per entry (sorted here). */
function dockerTarSum(archive: string, version: string): { label: string; entries: string[] } {
  // The archive by path, not on stdin: under Deno, `execFileSync`'s `input` was not always
  // delivered whole.
  const out = execFileSync(tarsumPeer(), [version, archive]).toString();
  const [label, ...entries] = out.trimEnd().split("\n");
  return { label: label as string, entries: entries.sort() };
}

describe("TarSum against Docker's pkg/tarsum", () => {
  it("equal labels and entry sums for GNU, old GNU and PAX archives, sparse files included", async () => {
    using tmp = tempDir();
    fixtureTree(tmp.dir);
    for (const [name, options] of FORMATS) {
      const archive = gnuTar(tmp.dir, name, options);
      for (const version of ["0", "1", "dev"]) {
        const docker = dockerTarSum(archive, version);
        const ours = await cli(["tarsum", "--tarsum-version", version, "--entries", archive]);
        assert.equal(ours.code, 0, `${name} v${version}: ${ours.stderr}`);
        const lines = ours.stdout.trimEnd().split("\n");
        assert.equal(lines.at(-1), docker.label, `${name} v${version}`);
        assert.deepEqual(lines.slice(0, -1).sort(), docker.entries, `${name} v${version} entries`);
      }
    }
  });

  it("sync --tar of sparse archives holds the whole files, still sparse, with tarsum's entry sums", async () => {
    using tmp = tempDir();
    fixtureTree(tmp.dir);
    for (const [name, options] of FORMATS.slice(0, 3)) {
      const archive = gnuTar(tmp.dir, name, options);
      const root = `${tmp.dir}/cache-${name}`;
      const sync = await cli(["sync", "--tar", archive, "--root", root, "--key", "k", "--json"]);
      assert.equal(sync.code, 0, sync.stderr);
      const snapshot = JSON.parse(sync.stdout).path as string;
      for (const file of ["few.bin", "many.bin", "hole.bin"]) {
        assert.ok(
          Buffer.compare(fs.readFileSync(`${snapshot}/${file}`), fs.readFileSync(`${tmp.dir}/t/${file}`)) === 0,
          `${name}: ${file} has the source's bytes`,
        );
      }
      // 5 MiB with 12 KiB of data: the holes stayed holes.
      assert.ok(fs.statSync(`${snapshot}/few.bin`).blocks * 512 < MiB, `${name}: few.bin is sparse`);
      const entries = await cli(["tarsum", "--entries", archive]);
      for (const line of entries.stdout.trimEnd().split("\n").slice(0, -1)) {
        const [sum, path] = line.split(" ") as [string, string];
        if (path === ".") continue;
        const hash = (await cli(["hash", "k", path, "--root", root])).stdout.trim();
        // A directory's `dir:` sum covers what is below it; files answer with their entry sum.
        if (!hash.startsWith("dir:")) assert.equal(hash, `file:${sum}`, `${name}: ${path}`);
      }
    }
  });
});
