/**
 * Worker-thread entry of the local transport: runs {@linkcode Task}s over `node:fs`
 * with synchronous calls (~1 µs each instead of ~50 µs awaited).
 * @module
 */
import * as fs from "node:fs";
import { nodeSha256 } from "../../backends/node_sha256.ts";
import { serveWorker } from "../../backends/worker_pool.ts";
import { runTask, type Task } from "./tasks.ts";

const context = { src: fs, dst: fs, sha256: nodeSha256 };

await serveWorker((task) => runTask(context, task as unknown as Task));
