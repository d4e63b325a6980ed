/**
 * SPEC §4.4 against Docker's own published answers: the expected sums of moby's
 * `pkg/tarsum` tests (`TestTarSums`' in-memory sized layer, `TestIteration`, `TestEmptyTar`).
 * The archives are rebuilt the way those tests build them — with Go's archive/tar — by
 * `tests/fixtures/docker_tarsum/gen.go`, and committed gzipped.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { type TarSumVersion, tarSum } from "../mod.ts";
import { projectRoot } from "./_helpers.ts";

const fixtures = `${projectRoot()}/tests/fixtures/docker_tarsum`;

/** [archive, version, Docker's expected sum], copied from moby's tarsum_test.go. */
const vectors: [string, TarSumVersion, string][] = [
  ["sized-1mib.tar", "0", "tarsum+sha256:75258b2c5dcd9adfe24ce71eeca5fc5019c7e669912f15703ede92b1a60cb11f"],
  ["file-v0.tar", "0", "tarsum+sha256:626c4a2e9a467d65c33ae81f7f3dedd4de8ccaee72af73223c4bc4718cbc7bbd"],
  ["file-v0.tar", "dev", "tarsum.dev+sha256:6ffd43a1573a9913325b4918e124ee982a99c0f3cba90fc032a65f5e20bdd465"],
  ["another.tar", "dev", "tarsum.dev+sha256:862964db95e0fa7e42836ae4caab3576ab1df8d275720a45bdd01a5a3730cc63"],
  ["xattrs.tar", "dev", "tarsum.dev+sha256:4b1ba03544b49d96a32bacc77f8113220bd2f6a77e7e6d1e7b33cd87117d88e7"],
  ["xattrs-case.tar", "dev", "tarsum.dev+sha256:410b602c898bd4e82e800050f89848fc2cf20fd52aa59c1ce29df76b878b84a6"],
  ["xattrs-v0.tar", "0", "tarsum+sha256:b1f97eab73abd7593c245e51070f9fbdb1824c6b00a0b7a3d7f0015cd05e9e86"],
];

function archive(name: string): Uint8Array {
  return gunzipSync(readFileSync(`${fixtures}/${name}.gz`));
}

describe("TarSum matches Docker's published test vectors", () => {
  for (const [name, version, expected] of vectors) {
    it(`${name}, version ${version}`, async () => {
      const { sum } = await tarSum([archive(name)], { version });
      assert.equal(sum, expected);
    });
  }

  it("xattrs change the v1/dev sum but not the v0 sum, as in Docker", async () => {
    const v0 = await tarSum([archive("xattrs.tar")], { version: "0" });
    const v0Other = await tarSum([archive("xattrs-v0.tar")], { version: "0" });
    const v1 = await tarSum([archive("xattrs.tar")], { version: "1" });
    const v1Other = await tarSum([archive("xattrs-v0.tar")], { version: "1" });
    assert.equal(v0.sum, v0Other.sum);
    assert.notEqual(v1.sum, v1Other.sum);
  });

  it("an empty archive (1024 zero bytes) sums to the sha256 of nothing (TestEmptyTar)", async () => {
    const { sum } = await tarSum([new Uint8Array(1024)], { version: "0" });
    assert.equal(sum, "tarsum+sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });
});
