/**
 * Worker-thread entry of the local transport: runs {@linkcode Task}s over `node:fs`
 * with synchronous calls (~1 µs each instead of ~50 µs awaited), through `diskFs`, so
 * names that are not UTF-8 keep their bytes.
 * @module
 */
import { diskFs } from "../../backends/disk_fs.ts";
import { nodeSha256 } from "../../backends/node_sha256.ts";
import { serveWorker, withTransfer } from "../../backends/worker_pool.ts";
import type { WrittenFiles } from "../diffcopy/file_batches.ts";
import { runTask, type Task } from "./tasks.ts";

const context = { src: diskFs, dst: diskFs, sha256: nodeSha256 };

// Not awaited: the CLI bundles this entry as CommonJS, which has no top-level await.
void serveWorker((task) => {
  const result = runTask(context, task as unknown as Task);
  // a received batch's buffer goes back to be filled again, moved, not copied
  if ((task as unknown as Task).op === "receive-files") {
    return withTransfer(result as WrittenFiles, [(result as WrittenFiles).data.buffer as ArrayBuffer]);
  }
  return result;
});
