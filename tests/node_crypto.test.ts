/** Random keys without `node:crypto`, and the module itself loaded on first use. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { nodeCrypto, randomBytes, randomUUID } from "../backends/node_crypto.ts";

describe("node_crypto", () => {
  it("randomUUID gives version 4 UUIDs, none repeated", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = randomUUID();
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      seen.add(id);
    }
    assert.equal(seen.size, 2000);
  });

  it("randomBytes gives as many bytes as asked, and different ones each call", () => {
    assert.equal(randomBytes(0).length, 0);
    assert.equal(randomBytes(1).length, 1);
    const a = randomBytes(4096);
    const b = randomBytes(4096);
    assert.equal(a.length, 4096);
    assert.notDeepEqual(a, b);
    // 4096 random bytes take nearly every value; a buffer left at zero would not.
    assert.ok(new Set(a).size > 200);
  });

  it("nodeCrypto is the runtime's node:crypto", () => {
    assert.equal(
      nodeCrypto().createHash("sha256").update("data").digest("hex"),
      createHash("sha256").update("data").digest("hex"),
    );
    assert.equal(nodeCrypto(), nodeCrypto());
  });
});
