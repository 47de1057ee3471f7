/**
 * DecoderSession whose onnxruntime sessions and KV cache live in a worker thread.
 *
 * onnxruntime-node returns every step's KV cache as new ArrayBuffers (11 MB per row for GPT-2);
 * on the main heap, next to the tokenizer and transformers.js, collecting them cost about 9 ms of a
 * 45 ms K = 3 step (docs/performance.md). A worker's heap holds only the decoder, and its
 * synchronous session.run no longer blocks the caller's event loop. Only logits cross threads.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { EngineError, type DeviceReport, type DeviceRequest, type Gpt2Config } from '../types';
import { openDecoderInThread, type DecoderPaths, type DecoderSession, type StepInput, type StepOutput } from './decoder';
import type { DecoderReply, DecoderRequest, WireError } from './decoder-protocol';
import type { KvCache } from './kv-cache';
import type { DecoderBatch, RowLogits } from './row-batch';
import { RowBook } from './row-book';

/** A request that gets a reply, before its call number is assigned. */
type Unsent<T> = T extends { call: number } ? Omit<T, 'call'> : never;

type Pending = { resolve: (reply: DecoderReply & { ok: true }) => void; reject: (error: Error) => void };

/** How long release() waits for the worker to answer, and then for it to end. */
const RELEASE_TIMEOUT_MS = 5_000;

/** Resolves when `promise` settles or after `ms`, whichever comes first. */
function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    void promise.finally(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A handle dropped without dispose() frees its cache in the worker, as a dropped in-thread cache is collected. */
const dropped = new FinalizationRegistry<{ owner: ThreadedDecoderSession; id: number }>(({ owner, id }) => owner.post({ type: 'dispose', id }));

/** Caller-side handle of a KV cache held by the worker. */
class WorkerKvCache implements KvCache {
  disposed = false;

  constructor(
    readonly owner: ThreadedDecoderSession,
    readonly id: number,
    readonly batch: number,
    readonly length: number,
  ) {
    dropped.register(this, { owner, id }, this);
  }

  select(rows: readonly number[]): KvCache {
    if (this.disposed) throw new EngineError('internal', 'KV cache used after dispose()');
    if (rows.length === 0) throw new EngineError('internal', 'KvCache.select needs at least one row');
    for (const r of rows) {
      if (!Number.isInteger(r) || r < 0 || r >= this.batch) throw new EngineError('internal', `KvCache.select: row ${r} is outside 0..${this.batch - 1}`);
    }
    return this.owner.selectRows(this, rows);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    dropped.unregister(this);
    this.owner.post({ type: 'dispose', id: this.id });
  }
}

/**
 * Caller-side handle of a batch held by the worker. It keeps its own RowBook, updated as the
 * worker's is (after a step succeeds; at once for remove and truncate, which it checks first).
 */
class WorkerDecoderBatch implements DecoderBatch {
  readonly #book = new RowBook();
  #kvBytes = 0;
  #busy = false;
  #disposed = false;

  constructor(
    private readonly owner: ThreadedDecoderSession,
    private readonly id: number,
  ) {
    droppedBatches.register(this, { owner, id }, this);
  }

  get rows(): readonly number[] {
    return this.#book.rows;
  }

  lengthOf(row: number): number {
    return this.#book.lengthOf(row);
  }

  get kvBytes(): number {
    return this.#kvBytes;
  }

  async prefill(tokens: readonly number[], copies: number): Promise<{ rows: number[]; out: RowLogits }> {
    const out = await this.#call({ type: 'batchPrefill', batchId: this.id, tokens: [...tokens], copies });
    return { rows: this.#book.add(copies, tokens.length), out };
  }

  async decode(rows: readonly number[], tokens: readonly number[]): Promise<RowLogits> {
    this.#check();
    this.#book.slotsOfAll(rows);
    const out = await this.#call({ type: 'batchDecode', batchId: this.id, rows: [...rows], tokens: [...tokens] });
    for (const row of rows) this.#book.setLength(row, this.#book.lengthOf(row) + 1);
    return out;
  }

  async extend(row: number, tokens: readonly number[]): Promise<RowLogits> {
    this.#check();
    const length = this.#book.lengthOf(row);
    const out = await this.#call({ type: 'batchExtend', batchId: this.id, row, tokens: [...tokens] });
    this.#book.setLength(row, length + tokens.length);
    return out;
  }

  truncate(row: number, length: number): void {
    this.#check();
    const current = this.#book.lengthOf(row);
    if (!Number.isInteger(length) || length < 1 || length > current) {
      throw new EngineError('internal', `truncate: row ${row} holds ${current} positions; cannot keep ${length}`);
    }
    this.#book.setLength(row, length);
    this.owner.post({ type: 'batchTruncate', batchId: this.id, row, length });
  }

  remove(rows: readonly number[]): void {
    this.#check();
    this.#book.remove(rows);
    this.owner.post({ type: 'batchRemove', batchId: this.id, rows: [...rows] });
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    droppedBatches.unregister(this);
    this.owner.post({ type: 'batchDispose', batchId: this.id });
  }

  #check(): void {
    if (this.#disposed) throw new EngineError('internal', 'batch used after dispose()');
    if (this.#busy) throw new EngineError('internal', 'batch used while a step is running: await each call');
  }

  async #call(request: Unsent<DecoderRequest>): Promise<RowLogits> {
    this.#check();
    this.#busy = true;
    try {
      const reply = await this.owner.request(request);
      if (this.#disposed) throw new EngineError('cancelled', 'the batch was disposed while a step was running');
      if (!reply.logits || !reply.logSumExp) throw new EngineError('internal', 'decoder worker returned no logits');
      this.#kvBytes = reply.kvBytes ?? this.#kvBytes;
      return { logits: new Float32Array(reply.logits), logSumExp: new Float32Array(reply.logSumExp) };
    } finally {
      this.#busy = false;
    }
  }
}

/** A batch dropped without dispose() frees its cache in the worker. */
const droppedBatches = new FinalizationRegistry<{ owner: ThreadedDecoderSession; id: number }>(({ owner, id }) => owner.post({ type: 'batchDispose', batchId: id }));

function fromWire(error: WireError): Error {
  return error.kind === null ? new Error(error.message) : new EngineError(error.kind, error.message);
}

class ThreadedDecoderSession implements DecoderSession {
  device: DeviceReport = { requested: 'cpu', used: 'cpu' };
  private readonly pending = new Map<number, Pending>();
  private nextCall = 1;
  private nextCache = 1;
  private nextBatch = 1;
  private failure: Error | undefined;
  private released = false;

  constructor(
    private readonly worker: Worker,
    readonly config: Gpt2Config,
  ) {
    worker.unref();
    worker.on('message', (reply: DecoderReply) => this.settle(reply));
    worker.on('error', (error) => this.fail(new EngineError('internal', `decoder worker crashed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => this.fail(new EngineError('internal', `decoder worker exited (code ${code})${this.released ? ' after release()' : ''}`)));
  }

  /** Posts a request that gets no reply (select, dispose); a dead worker has nothing left to free. */
  post(request: DecoderRequest): void {
    if (this.failure === undefined && !this.released) this.worker.postMessage(request);
  }

  /** Sends a request and waits for its reply; the worker keeps the process alive only while calls are pending. */
  request(request: Unsent<DecoderRequest>): Promise<DecoderReply & { ok: true }> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const call = this.nextCall++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(call, { resolve, reject });
      this.worker.postMessage({ ...request, call });
    });
  }

  private settle(reply: DecoderReply): void {
    const waiting = this.pending.get(reply.call);
    if (!waiting) return;
    this.pending.delete(reply.call);
    if (this.pending.size === 0) this.worker.unref();
    if (reply.ok) waiting.resolve(reply);
    else waiting.reject(fromWire(reply.error));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiting of this.pending.values()) waiting.reject(this.failure);
    this.pending.clear();
    this.worker.unref();
  }

  selectRows(from: WorkerKvCache, rows: readonly number[]): KvCache {
    const to = new WorkerKvCache(this, this.nextCache++, rows.length, from.length);
    this.post({ type: 'select', fromId: from.id, toId: to.id, rows: [...rows] });
    return to;
  }

  createBatch(): DecoderBatch {
    if (this.released) throw new EngineError('internal', 'decoder session used after release()');
    return new WorkerDecoderBatch(this, this.nextBatch++);
  }

  async open(paths: DecoderPaths, device: DeviceRequest): Promise<void> {
    const reply = await this.request({ type: 'open', paths, config: this.config, device });
    if (reply.device) this.device = reply.device;
  }

  async step(input: StepInput): Promise<StepOutput> {
    if (this.released) throw new EngineError('internal', 'decoder session used after release()');
    const { past, batch, seqLen, inputIds, attentionMask, positionIds } = input;
    if (past !== null && !(past instanceof WorkerKvCache && past.owner === this)) throw new EngineError('internal', 'step: past must come from this runtime');
    if (past?.disposed) throw new EngineError('internal', 'KV cache used after dispose()');
    const presentId = this.nextCache++;
    const reply = await this.request({
      type: 'step', batch, seqLen, inputIds, attentionMask, positionIds, pastId: past?.id ?? null, presentId,
    });
    if (!reply.logits) throw new EngineError('internal', 'decoder worker returned no logits');
    return { logits: new Float32Array(reply.logits), present: new WorkerKvCache(this, presentId, batch, (past?.length ?? 0) + seqLen) };
  }

  async logitsAll(ids: readonly number[]): Promise<Float32Array> {
    if (this.released) throw new EngineError('internal', 'decoder session used after release()');
    const reply = await this.request({ type: 'logitsAll', ids });
    if (!reply.logits) throw new EngineError('internal', 'decoder worker returned no logits');
    return new Float32Array(reply.logits);
  }

  collectGarbage(): void {
    this.post({ type: 'collect' });
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    // A worker stuck in a native call never answers: terminate it anyway after a while (issue 6 §3.5).
    await withTimeout(this.request({ type: 'release' }).catch(() => undefined), RELEASE_TIMEOUT_MS);
    await withTimeout(this.worker.terminate().catch(() => undefined), RELEASE_TIMEOUT_MS);
  }
}

/** How to start the worker: the bundled decoder-worker.js, or the TypeScript entry through jiti when running from sources (vitest). */
function workerLaunch(): { entry: URL; execArgv?: string[] } | string {
  const explicit = process.env.INKWELL_DECODER_WORKER;
  if (explicit) return existsSync(explicit) ? { entry: pathToFileURL(explicit) } : `INKWELL_DECODER_WORKER=${explicit} does not exist`;
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    try {
      // 'jiti/register' is import-only in jiti's exports map; require finds the folder it lives in.
      const register = join(dirname(createRequire(import.meta.url).resolve('jiti')), 'jiti-register.mjs');
      if (!existsSync(register)) return `running from TypeScript sources and ${register} is missing`;
      return { entry: new URL('./worker-entry.ts', import.meta.url), execArgv: ['--import', pathToFileURL(register).href] };
    } catch (error) {
      return `running from TypeScript sources and jiti is not installed: ${(error as Error).message}`;
    }
  }
  // The bundle puts this module in out/main/ or out/main/chunks/, next to or under decoder-worker.js.
  for (const dir of [dirname(here), join(dirname(here), '..')]) {
    const candidate = join(dir, 'decoder-worker.js');
    if (existsSync(candidate)) return { entry: pathToFileURL(candidate) };
  }
  return `decoder-worker.js is not next to ${here}`;
}

const warned = new Set<string>();

function warnInThread(reason: string): void {
  if (warned.has(reason)) return;
  warned.add(reason);
  console.warn(`[inkwell] decoder runs on the main thread: ${reason}`);
}

/** Starts a worker and opens the decoder in it; a worker that cannot start is a string reason, a decoder that cannot open throws. */
async function openInWorker(paths: DecoderPaths, config: Gpt2Config, device: DeviceRequest): Promise<DecoderSession | string> {
  const launch = workerLaunch();
  if (typeof launch === 'string') return launch;
  let worker: Worker;
  try {
    worker = new Worker(launch.entry, launch.execArgv ? { execArgv: launch.execArgv } : {});
  } catch (error) {
    return `the decoder worker did not start: ${(error as Error).message}`;
  }
  const session = new ThreadedDecoderSession(worker, config);
  try {
    await session.open(paths, device);
    return session;
  } catch (error) {
    await worker.terminate();
    if (error instanceof EngineError && /^decoder worker (crashed|exited)/.test(error.message)) return error.message;
    throw error;
  }
}

/**
 * Opens the decoder on `device` ('auto': CUDA → WebGPU → CPU, falling back to CPU with the
 * reason in `device`), in a worker thread unless INKWELL_DECODER_THREAD=0 or no worker can start.
 */
export async function openDecoder(paths: DecoderPaths, config: Gpt2Config, device: DeviceRequest): Promise<DecoderSession> {
  for (const path of [paths.rowsPath, paths.decoderPath]) {
    if (!existsSync(path)) throw new EngineError('not_found', `${path}: decoder graph is missing`);
  }
  if (process.env.INKWELL_DECODER_THREAD === '0') return openDecoderInThread(paths, config, device);
  const opened = await openInWorker(paths, config, device);
  if (typeof opened !== 'string') return opened;
  warnInThread(opened);
  return openDecoderInThread(paths, config, device);
}
