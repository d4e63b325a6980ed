/** SPEC §4.4: TarSum of tar streams, checked against an independent Python implementation. */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pack } from "tar-stream";
import { encodeName, nodeSha256, tarSum } from "../mod.ts";
import { projectRoot } from "./_helpers.ts";

const reference = `${projectRoot()}/tests/fixtures/tarsum_reference.py`;
let work = "";

before(() => {
  work = fs.mkdtempSync(join(tmpdir(), "fscache-"));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** Runs a Python snippet with `W` bound to the work dir. */
function python(code: string): void {
  execFileSync("python3", ["-c", `W = ${JSON.stringify(work)}\n${code}`], { stdio: "pipe" });
}

function referenceSum(version: string, archive: string, extra?: string): { sum: string; entries: string[] } {
  const out = execFileSync("python3", [reference, version, archive, ...(extra ? [extra] : [])]);
  const lines = out.toString("latin1").trimEnd().split("\n");
  return { sum: lines.pop() as string, entries: lines };
}

async function ours(version: "0" | "1" | "dev", archive: string, extra?: Uint8Array) {
  const entries: string[] = [];
  const result = await tarSum(fs.createReadStream(archive), {
    version,
    ...(extra ? { extra } : {}),
    onEntry: (name, sum) => entries.push(`${sum} ${Buffer.from(encodeName(name)).toString("latin1")}`),
  });
  return { sum: result.sum, entries };
}

/** A tree with every entry type tar holds and names long enough for GNU/PAX extensions. */
function makeTree(): string {
  const src = join(work, "src");
  if (fs.existsSync(src)) return src;
  python(`
import os
src = os.path.join(W, "src")
os.makedirs(os.path.join(src, "dir", "sub"))
long = "l" * 120
os.makedirs(os.path.join(src, long))
open(os.path.join(src, long, "f" * 110), "w").write("long name")
open(os.path.join(src, "foo"), "w").write("data")
open(os.path.join(src, "empty"), "w").close()
open(os.path.join(src, "dir", "a"), "w").write("A")
open(os.path.join(src, "dir", "sub", "exe"), "w").write("#!/bin/sh\\n")
os.chmod(os.path.join(src, "dir", "sub", "exe"), 0o4755)
os.symlink("foo", os.path.join(src, "lnk"))
os.symlink("t" * 150, os.path.join(src, "longlink"))
os.link(os.path.join(src, "foo"), os.path.join(src, "hard"))
os.mkfifo(os.path.join(src, "fifo"))
open(os.path.join(src.encode(), b"n\\xff\\xfe.bin"), "wb").write(b"bytes")
open(os.path.join(src, "big"), "wb").write(os.urandom(3 * 1024 * 1024 + 17))
`);
  return src;
}

describe("TarSum of tar streams", () => {
  it("matches the reference on GNU, PAX and ustar archives of every entry type, for versions 0, 1 and dev", async () => {
    const src = makeTree();
    const archives: string[] = [];
    for (const format of ["gnu", "pax", "posix"]) {
      const file = join(work, `${format}.tar`);
      execFileSync("tar", [`--format=${format}`, "-cf", file, "-C", src, "."]);
      archives.push(file);
    }
    for (const archive of archives) {
      for (const version of ["0", "1", "dev"] as const) {
        const expected = referenceSum(version, archive);
        const actual = await ours(version, archive);
        assert.equal(actual.sum, expected.sum, `${archive} v${version}`);
        assert.deepEqual(actual.entries, expected.entries, `${archive} v${version}`);
      }
    }
  });

  it("hashes SCHILY.xattr records (binary values too), sorted by key, in v1 but not v0", async () => {
    const file = join(work, "xattr.tar");
    python(`
import tarfile, io
with tarfile.open(W + "/xattr.tar", "w", format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape") as t:
    for name, attrs in [("plain", {}), ("caps", {"SCHILY.xattr.security.capability": "\\x01\\x00\\x00\\x02\\udcff\\udc80", "SCHILY.xattr.user.b": "2", "SCHILY.xattr.user.a": "1"})]:
        info = tarfile.TarInfo(name)
        info.size = 3
        info.mode = 0o644
        info.uid = 3000000
        info.pax_headers = dict(attrs)
        t.addfile(info, io.BytesIO(b"abc"))
`);
    for (const version of ["0", "1"] as const) {
      assert.equal((await ours(version, file)).sum, referenceSum(version, file).sum, `v${version}`);
    }
    const withXattrs = (await ours("1", file)).entries;
    const without = (await ours("0", file)).entries;
    assert.notEqual(withXattrs[1], without[1]);
  });

  it("hashes `extra` before the sorted entry checksums; an empty archive sums `extra` alone", async () => {
    const src = makeTree();
    const archive = join(work, "extra.tar");
    execFileSync("tar", ["--format=gnu", "-cf", archive, "-C", src, "."]);
    const extraFile = join(work, "extra.bin");
    fs.writeFileSync(extraFile, "some extra bytes");
    const extra = fs.readFileSync(extraFile);
    assert.equal((await ours("1", archive, extra)).sum, referenceSum("1", archive, extraFile).sum);
    const empty = join(work, "empty.tar");
    fs.writeFileSync(empty, new Uint8Array(1024));
    const h = nodeSha256();
    h.update(extra);
    assert.equal((await ours("1", empty, extra)).sum, `tarsum.v1+sha256:${h.digest()}`);
    const none = nodeSha256();
    assert.equal((await tarSum([])).sum, `tarsum.v1+sha256:${none.digest()}`);
  });

  it("counts a PAX global header as an entry of its own, as Go's reader returns it", async () => {
    const file = join(work, "global.tar");
    python(`
import tarfile, io
with tarfile.open(W + "/global.tar", "w", format=tarfile.PAX_FORMAT, pax_headers={"comment": "x"}) as t:
    info = tarfile.TarInfo("f")
    info.size = 1
    t.addfile(info, io.BytesIO(b"z"))
`);
    const block = fs.readFileSync(file).subarray(0, 100);
    const name = block.subarray(0, block.indexOf(0));
    const h = nodeSha256();
    h.update(Buffer.concat([Buffer.from("name"), name, Buffer.from("mode0uid0gid0size0typeflaggl")]));
    h.update("inknameunamegnamedevmajor0devminor0");
    const { entries } = await ours("1", file);
    assert.equal(entries.length, 2);
    assert.equal(entries[0]?.split(" ")[0], h.digest());
  });

  it("streams a 300 MB entry in bounded memory", async () => {
    const size = 300 * 1024 * 1024;
    const archive = pack();
    const chunk = new Uint8Array(1024 * 1024).fill(7);
    const entry = archive.entry({ name: "big", size, mode: 0o644, mtime: new Date(0) });
    (async () => {
      for (let done = 0; done < size; done += chunk.length) {
        if (!entry.write(chunk)) await new Promise<void>((r) => entry.once("drain", () => r()));
      }
      entry.end(undefined as never);
      archive.finalize();
    })();
    const peakRss = () => Math.max(process.resourceUsage().maxRSS * 1024, process.memoryUsage().rss);
    const before = peakRss();
    const { sum, entries } = await tarSum(archive as unknown as AsyncIterable<Uint8Array>);
    const grown = peakRss() - before;
    assert.ok(grown < 64 * 1024 * 1024, `peak RSS grew by ${(grown / 1048576).toFixed(1)} MiB`);
    assert.equal(entries, 1);
    const h = nodeSha256();
    h.update(`namebigmode420uid0gid0size${size}typeflag0linknameunamegnamedevmajor0devminor0`);
    for (let done = 0; done < size; done += chunk.length) h.update(chunk);
    const total = nodeSha256();
    total.update(h.digest());
    assert.equal(sum, `tarsum.v1+sha256:${total.digest()}`);
  });

  it("rejects a damaged archive with ERR_INVALID_TAR", async () => {
    const bad = new Uint8Array(1024).fill(65);
    await assert.rejects(tarSum([bad]), { code: "ERR_INVALID_TAR" });
  });
});
