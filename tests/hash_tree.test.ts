/** SPEC §4.2–4.3: the hash tree, path checksums, walk order, and its serialized form. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Volume } from "memfs";
import {
  compareWalkOrder,
  decodeName,
  deserializeHashTree,
  encodeName,
  FSCacheError,
  fileSystemFrom,
  HashTree,
  inlineScanner,
  nodeSha256,
  serializeHashTree,
} from "../mod.ts";

const DIR = "6ef733e27d7e19cd509d8fd57b92ac90672e5137a6352a96a9f0a2153e320658";
const DIR_A = "6fbc54d998e31a24730876090786c29fe60166132a04f04484e4657387bba1e0";
const code = (c: string) => (e: unknown) => e instanceof FSCacheError && e.code === c;
const sum = (s: string) => {
  const h = nodeSha256();
  h.update(s);
  return h.digest();
};

describe("hash tree path checksums", () => {
  it("gives SPEC's dir: answer for dir + dir/a, and file: for a file", () => {
    const tree = new HashTree(nodeSha256);
    tree.apply("add", "dir", DIR, { mode: 0o40755, uid: 0, gid: 0, size: 0, mtimeMs: 0 });
    tree.apply("add", "dir/a", DIR_A);
    assert.equal(tree.hash("dir"), "dir:7b1b21ebf9e940d5b6ae7d5d457cd93b84a7bf13e1b9b2f3a47e5ed7eee71fbb");
    assert.equal(tree.hash("./dir//a"), `file:${DIR_A}`);
    // The root excludes itself (it has no entry) but covers everything below.
    assert.equal(tree.hash("."), tree.hash("dir"));
    assert.equal(tree.hash("missing"), undefined);
  });

  it("recomputes a cached directory digest after a change below it", () => {
    const tree = new HashTree(nodeSha256);
    tree.apply("add", "d", DIR, { mode: 0o40755, uid: 0, gid: 0, size: 0, mtimeMs: 0 });
    tree.apply("add", "d/x", sum("x"));
    const before = tree.hash("d");
    tree.apply("modify", "d/x", sum("y"));
    assert.notEqual(tree.hash("d"), before);
    const expected = [DIR, sum("y")].sort().join(",");
    assert.equal(tree.hash("d"), `dir:${sum(expected)}`);
  });

  it("delete removes the entry and everything below it", () => {
    const tree = new HashTree(nodeSha256);
    for (const p of ["a", "a/b", "a/b/c", "a.txt"]) tree.apply("add", p, sum(p));
    tree.apply("delete", "a");
    assert.deepEqual(
      [...tree.entries()].map(([p]) => p),
      ["a.txt"],
    );
    assert.equal(tree.size, 1);
  });

  it("content size: directories only implied by entries below are unknown, ones left empty by deletes are nothing", () => {
    const tree = new HashTree(nodeSha256);
    const file = { mode: 0o100644, uid: 0, gid: 0, size: 7, mtimeMs: 0 };
    tree.apply("add", "a/b/c.txt", sum("c"), file);
    assert.equal(tree.contentSize(), undefined, "a and a/b have no stat");
    tree.apply("delete", "a/b/c.txt");
    assert.equal(tree.contentSize(), 0, "nothing is left below a and a/b");
    tree.apply("add", "d", sum("d"), { ...file, mode: 0o040755, size: 0 });
    tree.apply("add", "d/e.txt", sum("e"), file);
    assert.equal(tree.contentSize(), 7);
  });

  it("rejects unclean paths and missing checksums", () => {
    const tree = new HashTree(nodeSha256);
    assert.throws(() => tree.apply("add", "a/../b", sum("x")), code("ERR_INVALID_PATH"));
    assert.throws(() => tree.apply("add", ".", sum("x")), code("ERR_INVALID_PATH"));
    assert.throws(() => tree.apply("add", "a"), code("ERR_INVALID_OPTION"));
    assert.throws(() => tree.hash("../x"), code("ERR_INVALID_PATH"));
  });
});

describe("walk order and names", () => {
  it("sorts '/' before every other byte", () => {
    assert.deepEqual(["foo0", "foo.2", "foo/a", "foo"].sort(compareWalkOrder), ["foo", "foo/a", "foo.2", "foo0"]);
  });

  it("iterates entries in walk order", () => {
    const tree = new HashTree(nodeSha256);
    for (const p of ["foo0", "foo.2", "foo", "foo/a", "é", "z"]) tree.apply("add", p, sum(p));
    assert.deepEqual(
      [...tree.entries()].map(([p]) => p),
      ["foo", "foo/a", "foo.2", "foo0", "z", "é"],
    );
  });

  it("keeps non-UTF-8 bytes losslessly as lone surrogates", () => {
    const bytes = new Uint8Array([0x61, 0xff, 0xc3, 0xa9, 0xed, 0xa0, 0x80]);
    const name = decodeName(bytes);
    assert.equal(name, "a\udcffé\udced\udca0\udc80");
    assert.deepEqual(encodeName(name), bytes);
    // U+FEFF is a character of the name like any other, at its start too (no byte-order mark).
    for (const bom of ["\ufeffa", "\ufeff", "\ufeff\udcff", "a\udcff\ufeff"]) {
      assert.equal(decodeName(encodeName(bom)), bom);
    }
  });

  it("orders names by their bytes, whatever their characters", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.string({ unit: "binary" }), (a, b) => {
        const x = encodeName(a);
        const y = encodeName(b);
        const key = (v: number) => (v === 0x2f ? -1 : v);
        let expected = x.length - y.length;
        for (let i = 0; i < Math.min(x.length, y.length); i++) {
          if (x[i] !== y[i]) {
            expected = key(x[i] as number) - key(y[i] as number);
            break;
          }
        }
        assert.equal(Math.sign(compareWalkOrder(a, b)), Math.sign(expected));
      }),
    );
  });
});

describe("hash tree serialization", () => {
  const sample = () => {
    const tree = new HashTree(nodeSha256);
    tree.apply("add", "dir", DIR, { mode: 0o40755, uid: 1000, gid: 1000, size: 0, mtimeMs: 1.5e12 + 0.25 });
    tree.apply("add", "dir/a", DIR_A, { mode: 0o100644, uid: 0, gid: 0, size: 2 ** 40, mtimeMs: 0 });
    tree.apply("add", "dir/l", sum("l"), { mode: 0o120777, uid: 0, gid: 0, size: 0, mtimeMs: 1, linkname: "a\udcff" });
    tree.apply("add", "x\udcfe", sum("x"));
    return tree;
  };

  it("round-trips entries, stats and link names", () => {
    const tree = sample();
    const restored = deserializeHashTree(serializeHashTree(tree), nodeSha256);
    assert.deepEqual([...restored.entries()], [...tree.entries()]);
    assert.equal(restored.hash("."), tree.hash("."));
  });

  it("rejects every truncation and any flipped byte with ERR_CORRUPT", () => {
    const bytes = serializeHashTree(sample());
    for (let n = 0; n < bytes.length; n++) {
      assert.throws(() => deserializeHashTree(bytes.subarray(0, n), nodeSha256), code("ERR_CORRUPT"));
    }
    for (let i = 0; i < bytes.length; i++) {
      const bad = bytes.slice();
      bad[i] = (bad[i] as number) ^ 0x40;
      assert.throws(() => deserializeHashTree(bad, nodeSha256), code("ERR_CORRUPT"));
    }
  });
});

/** A random file-system operation on a memfs tree: paths from a small alphabet so they collide. */
type Op =
  | { op: "file"; path: string; content: string; mode: number }
  | { op: "dir"; path: string }
  | { op: "rm"; path: string };

const segment = fc.constantFrom("a", "b", "a.b", "c0", "\u00e9");
const relPath = fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join("/"));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant("file" as const),
    path: relPath,
    content: fc.string({ maxLength: 20 }),
    mode: fc.constantFrom(0o644, 0o755, 0o600),
  }),
  fc.record({ op: fc.constant("dir" as const), path: relPath }),
  fc.record({ op: fc.constant("rm" as const), path: relPath }),
);

/** Applies `op` to the volume and reports the changes to `tree` as a transport would. */
function applyOp(vol: InstanceType<typeof Volume>, root: string, tree: HashTree, op: Op): void {
  const full = `${root}/${op.path}`;
  const parent = full.slice(0, full.lastIndexOf("/"));
  let parentOk = true;
  try {
    parentOk = vol.statSync(parent).isDirectory();
  } catch {
    parentOk = false;
  }
  if (op.op === "rm") {
    if (!vol.existsSync(full)) return;
    vol.rmSync(full, { recursive: true, force: true });
    tree.apply("delete", op.path);
    return;
  }
  if (!parentOk) return;
  const existed = vol.existsSync(full);
  if (existed) {
    vol.rmSync(full, { recursive: true, force: true });
    tree.apply("delete", op.path);
  }
  if (op.op === "dir") {
    vol.mkdirSync(full);
    vol.chmodSync(full, 0o755);
  } else {
    vol.writeFileSync(full, op.content);
    vol.chmodSync(full, op.mode);
  }
  // The checksum a transport would report: what a scan of this one entry gives.
  const st = vol.lstatSync(full);
  const header = `name${op.path}${op.op === "dir" ? "/" : ""}mode${st.mode}uid${st.uid}gid${st.gid}size${op.op === "dir" ? 0 : st.size}typeflag${op.op === "dir" ? 5 : 0}linknameunamegnamedevmajor0devminor0`;
  tree.apply(existed ? "modify" : "add", op.path, sum(header + (op.op === "file" ? op.content : "")), {
    mode: Number(st.mode),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: op.op === "dir" ? 0 : Number(st.size),
    mtimeMs: Number(st.mtimeMs),
  });
}

describe("hash tree properties", () => {
  it("incremental updates, then serialize/restore, equal a fresh scan", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { maxLength: 40 }),
        fc.array(opArb, { maxLength: 20 }),
        async (first, second) => {
          const vol = new Volume();
          vol.mkdirSync("/snap", { recursive: true });
          const fs = fileSystemFrom(vol);
          let tree = new HashTree(nodeSha256);
          for (const op of first) applyOp(vol, "/snap", tree, op);
          // A sync ends: the tree goes to the MetaStore and comes back for the next one.
          tree = deserializeHashTree(serializeHashTree(tree), nodeSha256);
          for (const op of second) applyOp(vol, "/snap", tree, op);
          const restored = deserializeHashTree(serializeHashTree(tree), nodeSha256);
          const scanned = await inlineScanner.scan(fs, "/snap", nodeSha256);
          const view = (t: HashTree) => [...t.entries()].map(([p, e]) => [p, e.checksum]);
          assert.deepEqual(view(restored), view(scanned));
          assert.equal(restored.hash("."), scanned.hash("."));
          for (const [path] of scanned.entries()) assert.equal(restored.hash(path), scanned.hash(path));
        },
      ),
      { numRuns: 60 },
    );
  });
});
