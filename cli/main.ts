#!/usr/bin/env node
/**
 * The `fscache` executable: Node (`npx fscache`) and Deno (`deno run -A cli/main.ts`).
 * @module
 */
import process from "node:process";
import { processIO, runCli } from "./run.ts";

// No top-level await: the npm bin is a CommonJS bundle (see `build:cli`), which has none.
runCli(process.argv.slice(2), processIO()).then((code) => {
  process.exitCode = code;
});
