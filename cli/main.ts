#!/usr/bin/env node
/**
 * The `fscache` executable: Node (`npx fscache`) and Deno (`deno run -A cli/main.ts`).
 * @module
 */
import process from "node:process";
import { processIO, runCli } from "./run.ts";

process.exitCode = await runCli(process.argv.slice(2), processIO());
