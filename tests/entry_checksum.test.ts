/** SPEC §4.1: per-entry checksums match Docker's tarsum v1 known answers. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeEntryHeader, entryChecksum, headerFromStats, nodeSha256 } from "../mod.ts";

const base = { uid: 0, gid: 0 };

describe("entry checksum (tarsum v1)", () => {
  it("encodes the header as key/value pairs without separators", () => {
    const header = encodeEntryHeader({ ...base, name: "foo", mode: 0o100644, size: 4, typeflag: "0" });
    assert.equal(
      new TextDecoder().decode(header),
      "namefoomode33188uid0gid0size4typeflag0linknameunamegnamedevmajor0devminor0",
    );
  });

  const known: [string, Parameters<typeof entryChecksum>[1], string | undefined, string][] = [
    [
      "regular foo 0644 'data'",
      { ...base, name: "foo", mode: 0o100644, size: 4, typeflag: "0" },
      "data",
      "68173f04924e92e07fd07f1eb85feeeee450728008861ecf7b85de475b0fef74",
    ],
    [
      "empty regular e",
      { ...base, name: "e", mode: 0o100644, size: 0, typeflag: "0" },
      "",
      "4878f6658e95238c4637a18a5193396620e0fcbe1c73ea375d608a6ade41f16c",
    ],
    [
      "directory dir 0755",
      { ...base, name: "dir/", mode: 0o40755, size: 0, typeflag: "5" },
      undefined,
      "6ef733e27d7e19cd509d8fd57b92ac90672e5137a6352a96a9f0a2153e320658",
    ],
    [
      "regular dir/a 'A'",
      { ...base, name: "dir/a", mode: 0o100644, size: 1, typeflag: "0" },
      "A",
      "6fbc54d998e31a24730876090786c29fe60166132a04f04484e4657387bba1e0",
    ],
    [
      "symlink lnk -> target",
      { ...base, name: "lnk", mode: 0o120777, size: 0, typeflag: "2", linkname: "target" },
      undefined,
      "ecb48bbdfb9e0ee956b28be4be63b38c5056fa62efbab63a324163249c3ed1b3",
    ],
    [
      "regular test 0755",
      { ...base, name: "test", mode: 0o100755, size: 13, typeflag: "0" },
      "contents test",
      "1149ab94af7be6cc1da1335e398f24ee1cf4926b720044d229969dfc248ae7ec",
    ],
  ];
  for (const [what, header, content, expected] of known) {
    it(`gives Docker's answer for ${what}`, () => {
      assert.equal(entryChecksum(nodeSha256, header, content), expected);
    });
  }

  it("derives headers from stats: type bits, directory slash, symlinks as 0777", () => {
    const stats = (mode: number, size = 0) => ({
      mode,
      uid: 0,
      gid: 0,
      size,
      mtimeMs: 0,
      ino: 1,
      dev: 1,
      rdev: 0,
      nlink: 1,
      isFile: () => (mode & 0o170000) === 0o100000,
      isDirectory: () => (mode & 0o170000) === 0o040000,
      isSymbolicLink: () => (mode & 0o170000) === 0o120000,
    });
    assert.deepEqual(headerFromStats("dir", stats(0o40755, 4096)), {
      ...base,
      name: "dir/",
      mode: 0o40755,
      size: 0,
      typeflag: "5",
    });
    assert.equal(headerFromStats("lnk", stats(0o120666, 6), "target")?.mode, 0o120777);
    assert.equal(headerFromStats("sock", stats(0o140755)), undefined);
    assert.equal(
      entryChecksum(nodeSha256, headerFromStats("foo", stats(0o100644, 4)) as never, "data"),
      "68173f04924e92e07fd07f1eb85feeeee450728008861ecf7b85de475b0fef74",
    );
  });

  it("hashes xattrs sorted by key bytes, after the fixed fields", () => {
    const header = encodeEntryHeader({
      ...base,
      name: "f",
      mode: 0o100644,
      size: 0,
      typeflag: "0",
      xattrs: [
        ["user.b", "2"],
        ["user.a", "1"],
      ],
    });
    assert.ok(new TextDecoder().decode(header).endsWith("devminor0user.a1user.b2"));
  });
});
