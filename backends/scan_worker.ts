/**
 * Worker side of {@linkcode workerScanner}: runs scan tasks (`scan_task.ts`).
 * @module
 */
import { runScanTask, type ScanTask } from "./scan_task.ts";
import { serveWorker } from "./worker_pool.ts";

await serveWorker((task) => runScanTask(task as unknown as ScanTask));
