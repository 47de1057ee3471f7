/**
 * Entry of the model-import worker thread (bundled as model-import-worker.js next to the
 * inference process). An import reads the checkpoint and builds the ONNX graphs synchronously for
 * seconds to minutes (GPT-2 XL); off the process's main thread, the heartbeat keeps beating and
 * other requests keep being answered meanwhile.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ModelStore } from '../engine';
import { errorMessage } from '../common/errors';
import type { ImportReply, ImportTask } from './import-in-worker';

if (!parentPort) throw new Error('model-import-worker must run as a worker thread');
const port = parentPort;
const task = workerData as ImportTask;

new ModelStore(task.home)
  .import(task.srcDir, task.id)
  .then(
    (model): ImportReply => ({ ok: true, model: { ...model, config: { ...model.config } } }),
    (error: unknown): ImportReply => ({ ok: false, kind: (error as { kind?: unknown } | null)?.kind ?? null, message: errorMessage(error) }),
  )
  .then((reply) => port.postMessage(reply));
