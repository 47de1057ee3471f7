/**
 * Runs a model import in its own worker thread (import-worker.ts), so that the inference process's
 * main thread stays free to beat and answer while the graphs are built. When the bundled worker is
 * not there (running from TypeScript sources), the import runs on this thread.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { EngineError, type EngineErrorKind } from '../engine';
import { EngineErrorKind as EngineErrorKindSchema } from '../../shared/api';
import type { StoredModelFields } from '../common/model-summary';
import type { ModelTaskOutcome, ModelTaskWork } from '../common/inference-protocol';
import type { TaskProgress } from '../../shared/models';

/** What the worker is given. */
export interface ImportTask {
  home: string;
  srcDir: string;
  id: string;
}

/** What the worker answers, once. */
export type ImportReply = { ok: true; model: StoredModelFields } | { ok: false; kind: unknown; message: string };

/** What the worker is given for a model task. */
export interface ModelTaskJob {
  home: string;
  work: ModelTaskWork;
}

/** What the worker posts while it runs a model task: progress, then one answer. */
export type ModelTaskMessage = { progress: TaskProgress } | { ok: true; outcome: ModelTaskOutcome } | { ok: false; kind: unknown; message: string };

/**
 * Runs a model task in a worker thread at `entry`; aborting `signal` asks the task to stop (it
 * stops at its next check and cleans up, so the answer still comes, as cancelled).
 */
export function modelTaskInWorker(entry: string, job: ModelTaskJob, onProgress: (progress: TaskProgress) => void, signal?: AbortSignal): Promise<ModelTaskOutcome> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(entry, { workerData: job });
    let answered = false;
    const onAbort = (): void => worker.postMessage({ cancel: true });
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (): void => {
      answered = true;
      signal?.removeEventListener('abort', onAbort);
    };
    worker.on('message', (message: ModelTaskMessage) => {
      if ('progress' in message) {
        onProgress(message.progress);
        return;
      }
      finish();
      if (message.ok) resolve(message.outcome);
      else reject(new EngineError(engineKind(message.kind), message.message));
      void worker.terminate();
    });
    worker.once('error', (error) => {
      finish();
      reject(new EngineError('internal', `the model task thread failed: ${error.message}`, { cause: error }));
    });
    worker.once('exit', (code) => {
      if (!answered) {
        finish();
        reject(new EngineError('internal', `the model task thread ended (code ${code}) without an answer`));
      }
    });
  });
}

/** The bundled worker next to the inference process (out/main/), or null. */
export function importWorkerEntry(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [here, join(here, '..')]) {
    const candidate = join(dir, 'model-import-worker.js');
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** Imports `srcDir` as `id` into the store under `home` in a worker thread at `entry`. */
export function importInWorker(entry: string, task: ImportTask): Promise<StoredModelFields> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(entry, { workerData: task });
    let answered = false;
    worker.once('message', (reply: ImportReply) => {
      answered = true;
      if (reply.ok) resolve(reply.model);
      else reject(new EngineError(engineKind(reply.kind), reply.message));
      void worker.terminate();
    });
    worker.once('error', (error) => {
      answered = true;
      reject(new EngineError('internal', `the model import thread failed: ${error.message}`, { cause: error }));
    });
    worker.once('exit', (code) => {
      if (!answered) reject(new EngineError('internal', `the model import thread ended (code ${code}) without an answer`));
    });
  });
}

function engineKind(kind: unknown): EngineErrorKind {
  const parsed = EngineErrorKindSchema.safeParse(kind);
  return parsed.success ? parsed.data : 'internal';
}
