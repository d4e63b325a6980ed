/**
 * SPEC §5.3, the receiver never trusts the sender: one test per rejection rule. Each
 * asserts the error code and path, the ERR sent back to the peer, and that nothing
 * appeared or changed outside the destination.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FSCacheError } from "../core/errors.ts";
import { type Packet, PacketType, packet } from "../transports/diffcopy/packet.ts";
import type { ReceiveOptions } from "../transports/diffcopy/receiver.ts";
import { disk, tempDir } from "./_diffcopy.ts";
import { assertNoWriteThroughLinks, DATA, DIR, END, FIN, runHostile, S, SYMLINK, snapshotOutside } from "./_hostile.ts";

/** Each rule holds whether new directories are made as their STATs arrive or after the last. */
async function expectRejected(
  input: (Packet | Uint8Array)[],
  expected: { code: string; message: RegExp; path?: string },
  options: ReceiveOptions = {},
): Promise<void> {
  await expectRejectedWith(input, expected, { ...options, earlyDirs: false });
  await expectRejectedWith(input, expected, { ...options, earlyDirs: true });
}

async function expectRejectedWith(
  input: (Packet | Uint8Array)[],
  expected: { code: string; message: RegExp; path?: string },
  options: ReceiveOptions,
): Promise<void> {
  using tmp = tempDir();
  const dest = `${tmp.dir}/dest`;
  disk.mkdirSync(dest);
  disk.mkdirSync(`${tmp.dir}/outside`);
  disk.writeFileSync(`${tmp.dir}/outside/secret`, "keep me");
  const before = snapshotOutside(disk, tmp.dir, dest);
  const { error, replies } = await runHostile(disk, dest, input, options);
  assert.ok(error instanceof FSCacheError, `expected an FSCacheError, got ${String(error)}`);
  assert.equal(error.code, expected.code, error.message);
  assert.match(error.message, expected.message);
  if (expected.path !== undefined) assert.equal(error.path, expected.path);
  const err = replies.find((p) => p.type === PacketType.ERR);
  assert.ok(err, "an ERR packet went back to the sender");
  assert.match(new TextDecoder().decode(err.data), expected.message);
  assert.deepEqual(snapshotOutside(disk, tmp.dir, dest), before, "nothing changed outside the destination");
  assert.ok(!disk.readdirSync(dest).some((n) => n.startsWith(".fscache-tmp-")), "no temporary files left");
}

describe("diff-copy receiver rejects", () => {
  it("absolute paths", async () => {
    await expectRejected([S("/etc/passwd"), END], { code: "ERR_PROTOCOL", message: /absolute/, path: "/etc/passwd" });
  });

  it("unclean paths", async () => {
    for (const path of ["a//b", "./a", "a/", "a/./b"]) {
      await expectRejected([S("a", { mode: DIR }), S(path), END], { code: "ERR_PROTOCOL", message: /not clean/, path });
    }
  });

  it("paths containing ..", async () => {
    await expectRejected([S("../outside/secret", { size: 4 }), END], {
      code: "ERR_PROTOCOL",
      message: /contains \.\./,
      path: "../outside/secret",
    });
  });

  it("entries out of walk order, and repeated entries", async () => {
    await expectRejected([S("b"), S("a"), END], { code: "ERR_PROTOCOL", message: /out of order/, path: "a" });
    await expectRejected([S("a"), S("a"), END], { code: "ERR_PROTOCOL", message: /out of order/, path: "a" });
    // `/` sorts before every other byte: foo.2 before foo/a is out of order
    await expectRejected([S("foo", { mode: DIR }), S("foo.2"), S("foo/a"), END], {
      code: "ERR_PROTOCOL",
      message: /out of order/,
      path: "foo/a",
    });
  });

  it("a child of a symlink (link → outside, then link/secret)", async () => {
    await expectRejected(
      [
        S("link", { mode: SYMLINK, linkname: "../outside" }),
        S("link/secret", { size: 5 }),
        END,
        DATA(1, "owned"),
        DATA(1),
      ],
      { code: "ERR_PROTOCOL", message: /parent was not sent as a directory/, path: "link/secret" },
    );
  });

  it("a child of a parent never sent", async () => {
    await expectRejected([S("x/y"), END], { code: "ERR_PROTOCOL", message: /parent was not sent/, path: "x/y" });
  });

  it("hard links to unknown, later or outside paths", async () => {
    for (const target of ["nope", "z", "../outside/secret", "/etc/passwd"]) {
      await expectRejected([S("h", { linkname: target }), S("z"), END], {
        code: "ERR_PROTOCOL",
        message: /hard link to unknown or later path/,
        path: "h",
      });
    }
  });

  it("invalid modes", async () => {
    await expectRejected([S("a", { mode: DIR | SYMLINK }), END], { code: "ERR_PROTOCOL", message: /invalid mode/ });
  });

  it("DATA for an unknown id", async () => {
    await expectRejected([S("a", { size: 3 }), END, DATA(7, "abc")], {
      code: "ERR_PROTOCOL",
      message: /unknown or unrequested id 7/,
    });
  });

  it("DATA for an id already completed (repeated)", async () => {
    await expectRejected([S("a", { size: 3 }), S("b", { size: 1 }), END, DATA(0, "abc"), DATA(0), DATA(0, "x")], {
      code: "ERR_PROTOCOL",
      message: /unknown or unrequested id 0/,
    });
  });

  it("more data than the declared size, and less", async () => {
    await expectRejected([S("a", { size: 3 }), END, DATA(0, "abcd")], {
      code: "ERR_PROTOCOL",
      message: /more data than the declared 3 bytes/,
      path: "a",
    });
    await expectRejected([S("a", { size: 3 }), END, DATA(0, "ab"), DATA(0), FIN], {
      code: "ERR_PROTOCOL",
      message: /received 2 of the declared 3 bytes/,
      path: "a",
    });
  });

  it("oversize frames, before buffering them", async () => {
    await expectRejected([Uint8Array.from([0x7f, 0, 0, 0])], { code: "ERR_PROTOCOL", message: /exceeds the limit/ });
    await expectRejected(
      [S("a", { size: 3 }), END, DATA(0, "x".repeat(2000))],
      {
        code: "ERR_PROTOCOL",
        message: /frame of \d+ bytes exceeds the limit of 1024/,
      },
      { maxFrameBytes: 1024 },
    );
  });

  it("truncated frames", async () => {
    await expectRejected([Uint8Array.from([0, 0, 0, 10, 0x08])], { code: "ERR_PROTOCOL", message: /truncated frame/ });
    await expectRejected([Uint8Array.from([0, 0])], { code: "ERR_PROTOCOL", message: /truncated frame/ });
  });

  it("malformed packets", async () => {
    await expectRejected([Uint8Array.from([0, 0, 0, 2, 0x08, 0x09])], {
      code: "ERR_PROTOCOL",
      message: /unknown packet type 9/,
    });
    await expectRejected([Uint8Array.from([0, 0, 0, 2, 0x58, 0x01])], {
      code: "ERR_PROTOCOL",
      message: /unknown Packet field 11/,
    });
  });

  it("packets a sender must not send (REQ), and a connection closed before the end", async () => {
    await expectRejected([packet(PacketType.REQ, { id: 1 })], { code: "ERR_PROTOCOL", message: /unexpected REQ/ });
    await expectRejected([S("a")], { code: "ERR_PROTOCOL", message: /connection closed/ });
  });

  it("more entries than the limit", async () => {
    await expectRejected(
      [S("a"), S("b"), S("c"), END],
      { code: "ERR_LIMIT", message: /more than 2 entries/, path: "c" },
      {
        maxEntries: 2,
      },
    );
  });

  it("more bytes than the limit", async () => {
    await expectRejected(
      [S("a", { size: 60 }), S("b", { size: 50 }), END],
      {
        code: "ERR_LIMIT",
        message: /exceeds the limit of 100 bytes/,
        path: "b",
      },
      { maxBytes: 100 },
    );
  });
});

describe("diff-copy receiver never writes through symlinks", () => {
  it("replaces a symlinked directory in the destination instead of writing through it", async () => {
    for (const earlyDirs of [false, true]) {
      using tmp = tempDir();
      await assertNoWriteThroughLinks(disk, tmp.dir, { earlyDirs });
    }
  });
});
