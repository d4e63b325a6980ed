/**
 * The fuzz properties (tests/_fuzz_properties.ts) at a size for every test run: at
 * least 500 cases in all. `npm run fuzz` runs the same properties at full size.
 */
import { describe, it } from "node:test";
import { fuzzProperties } from "./_fuzz_properties.ts";

/** Cases per unit of weight; `npm run fuzz` uses far more. */
const PER_WEIGHT = 40;

describe("fuzzing hostile input", () => {
  for (const property of fuzzProperties) {
    it(property.name, async () => {
      await property.run(Math.max(3, Math.round(property.weight * PER_WEIGHT)));
    });
  }
});
