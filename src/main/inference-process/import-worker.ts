/**
 * Entry of the model worker thread (bundled as model-import-worker.js next to the inference
 * process). An import reads the checkpoint and builds the ONNX graphs synchronously for seconds to
 * minutes (GPT-2 XL), and a conversion quantizes every matrix and then measures the variant; off
 * the process's main thread, the heartbeat keeps beating and other requests keep being answered.
 * Started with an ImportTask it imports and answers once; started with a ModelTaskJob it runs the
 * task, posting its progress, and stops when the parent posts { cancel: true }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ModelStore } from '../engine';
import { errorMessage } from '../common/errors';
import type { ImportReply, ImportTask, ModelTaskJob, ModelTaskMessage } from './import-in-worker';
import { runModelTask } from './model-task';

if (!parentPort) throw new Error('model-import-worker must run as a worker thread');
const port = parentPort;
const data = workerData as ImportTask | ModelTaskJob;

const failure = (error: unknown): { ok: false; kind: unknown; message: string } => ({ ok: false, kind: (error as { kind?: unknown } | null)?.kind ?? null, message: errorMessage(error) });

if ('work' in data) {
  const controller = new AbortController();
  port.on('message', (message: { cancel?: boolean }) => {
    if (message.cancel) controller.abort();
  });
  const post = (message: ModelTaskMessage): void => port.postMessage(message);
  runModelTask(new ModelStore(data.home), data.work, { signal: controller.signal, onProgress: (progress) => post({ progress }) })
    .then((outcome): ModelTaskMessage => ({ ok: true, outcome }), failure)
    .then((reply) => {
      post(reply);
      port.close();
    });
} else {
  new ModelStore(data.home)
    .import(data.srcDir, data.id)
    .then((model): ImportReply => ({ ok: true, model: { ...model, config: { ...model.config } } }), failure)
    .then((reply) => port.postMessage(reply));
}
