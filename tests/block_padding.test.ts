/** The padding that spares the kernel reading back a rewritten file's last block. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BLOCK_SIZE, blockPadding } from "../transports/block_padding.ts";

describe("blockPadding", () => {
  it("fills the last block when it held old data", () => {
    assert.equal(blockPadding(1000, 3000), BLOCK_SIZE - 1000);
    assert.equal(blockPadding(1, 1), BLOCK_SIZE - 1);
    assert.equal(blockPadding(5000, 4097), 2 * BLOCK_SIZE - 5000);
    assert.equal(blockPadding(6000, 10_000), 2 * BLOCK_SIZE - 6000);
  });

  it("adds nothing on a block boundary", () => {
    assert.equal(blockPadding(0, 100), 0);
    assert.equal(blockPadding(BLOCK_SIZE, 10_000), 0);
    assert.equal(blockPadding(3 * BLOCK_SIZE, 3 * BLOCK_SIZE), 0);
  });

  it("adds nothing when the old file ended before the last block (or there was none)", () => {
    assert.equal(blockPadding(5000, BLOCK_SIZE), 0);
    assert.equal(blockPadding(9000, 3000), 0);
    assert.equal(blockPadding(100, 0), 0);
    assert.equal(blockPadding(100, -1), 0);
  });
});
