/**
 * InspectSession whose onnxruntime sessions live in a worker thread. onnxruntime-node's run is
 * synchronous: on the caller's thread a GPT-2 Large pass over 512 tokens would hold the inference
 * process's event loop for seconds, so a generation streaming meanwhile would stall and a cancel
 * would go unanswered. Only buffers cross: token ids and residual rows in, results out (transferred
 * where onnxruntime lets them go).
 */
import { Worker } from 'node:worker_threads';
import { EngineError, type DeviceReport, type DeviceRequest, type Gpt2Config } from '../types';
import type { WireError } from './decoder-protocol';
import type { InspectWorkerReply, InspectWorkerRequest } from './inspect-protocol';
import { openInspectSessionInThread, type ForwardResult, type InspectPaths, type InspectSession, type ReadoutResult } from './inspect-session';
import { workerLaunch } from './worker-launch';

type Unsent<T> = T extends { call: number } ? Omit<T, 'call'> : never;
type Answer = InspectWorkerReply & { ok: true };

function fromWire(error: WireError): Error {
  return error.kind === null ? new Error(error.message) : new EngineError(error.kind, error.message);
}

class ThreadedInspectSession implements InspectSession {
  device: DeviceReport = { requested: 'cpu', used: 'cpu' };
  private readonly pending = new Map<number, { resolve: (reply: Answer) => void; reject: (error: Error) => void }>();
  private nextCall = 1;
  private failure: Error | undefined;
  private released = false;

  constructor(private readonly worker: Worker) {
    worker.unref();
    worker.on('message', (reply: InspectWorkerReply) => this.settle(reply));
    worker.on('error', (error) => this.fail(new EngineError('internal', `inspect worker crashed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => this.fail(new EngineError('internal', `inspect worker exited (code ${code})${this.released ? ' after release()' : ''}`)));
  }

  /** Sends a request and waits for its reply; the worker keeps the process alive only while calls are pending. */
  request(request: Unsent<InspectWorkerRequest>, transfer: ArrayBuffer[] = []): Promise<Answer> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const call = this.nextCall++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(call, { resolve, reject });
      this.worker.postMessage({ ...request, call }, transfer);
    });
  }

  private settle(reply: InspectWorkerReply): void {
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

  private checkOpen(): void {
    if (this.released) throw new EngineError('internal', 'inspect session used after release()');
  }

  async open(paths: InspectPaths, config: Gpt2Config, device: DeviceRequest): Promise<void> {
    const reply = await this.request({ type: 'open', paths, config, device });
    if (reply.device) this.device = reply.device;
  }

  async forward(ids: readonly number[]): Promise<ForwardResult> {
    this.checkOpen();
    const { forward } = await this.request({ type: 'forward', ids: [...ids] });
    if (!forward) throw new EngineError('internal', 'inspect worker returned no forward result');
    return { attentions: forward.attentions.map((b) => new Uint16Array(b)), hidden: forward.hidden.map((b) => new Float32Array(b)) };
  }

  async readout(hidden: Float32Array, targets: readonly number[], k: number): Promise<ReadoutResult> {
    this.checkOpen();
    // A copy goes: the caller keeps its residual stream for later reads.
    const rows = hidden.slice().buffer;
    const { readout } = await this.request({ type: 'readout', hidden: rows, targets: [...targets], k }, [rows]);
    if (!readout) throw new EngineError('internal', 'inspect worker returned no readout');
    return {
      topIds: new Int32Array(readout.topIds),
      topLogprobs: new Float32Array(readout.topLogprobs),
      targetLogprobs: new Float32Array(readout.targetLogprobs),
      entropy: new Float32Array(readout.entropy),
    };
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.request({ type: 'release' }).catch(() => undefined);
    await this.worker.terminate();
  }
}

const warned = new Set<string>();

/**
 * Opens the inspect graphs on `device` in a worker thread, or on the calling thread when
 * INKWELL_INSPECT_THREAD=0 or no worker can start (warned once per reason).
 */
export async function openInspectSession(paths: InspectPaths, config: Gpt2Config, device: DeviceRequest): Promise<InspectSession> {
  const launch = process.env.INKWELL_INSPECT_THREAD === '0'
    ? 'INKWELL_INSPECT_THREAD=0'
    : workerLaunch(import.meta.url, 'inspect-worker.js', new URL('./inspect-worker-entry.ts', import.meta.url), 'INKWELL_INSPECT_WORKER');
  if (typeof launch === 'string') {
    if (launch !== 'INKWELL_INSPECT_THREAD=0') warnInThread(launch);
    return openInspectSessionInThread(paths, config, device);
  }
  let worker: Worker;
  try {
    worker = new Worker(launch.entry, launch.execArgv ? { execArgv: launch.execArgv } : {});
  } catch (error) {
    warnInThread(`the inspect worker did not start: ${(error as Error).message}`);
    return openInspectSessionInThread(paths, config, device);
  }
  const session = new ThreadedInspectSession(worker);
  try {
    await session.open(paths, config, device);
    return session;
  } catch (error) {
    await worker.terminate();
    // A worker that died before answering says nothing about the graphs: open them here instead.
    if (!(error instanceof EngineError && /^inspect worker (crashed|exited)/.test(error.message))) throw error;
    warnInThread(error.message);
    return openInspectSessionInThread(paths, config, device);
  }
}

function warnInThread(reason: string): void {
  if (warned.has(reason)) return;
  warned.add(reason);
  console.warn(`[inkwell] inspect passes run on the main thread: ${reason}`);
}
