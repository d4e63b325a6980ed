/**
 * Worker side of {@linkcode workerScanner}: runs scan tasks (`scan_task.ts`).
 * @module
 */
import { runScanTask, type ScanTask } from "./scan_task.ts";
import { serveWorker } from "./worker_pool.ts";

// Not awaited: the CLI bundles this entry as CommonJS, which has no top-level await.
void serveWorker((task) => runScanTask(task as unknown as ScanTask));
