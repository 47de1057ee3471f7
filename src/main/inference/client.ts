/**
 * The main process's handle on the inference process. It starts the process
 * on first use, numbers requests, routes replies and generation events back
 * to their callers, and turns the process's death (out of memory, native
 * crash, SIGKILL) into a typed `engine_crashed` rejection of everything in
 * flight; the next request starts a fresh process.
 *
 * How the process is made is injected (`Spawner`): Node's child_process.fork
 * here (serve mode), Electron's utilityProcess in the desktop app.
 */
import { ApiError, type DeviceStatus, type EngineStatus, type GenerationStartInfo } from '../../shared/api';
import { apiErrorFromKind, errorMessage } from '../common/errors';
import {
  PROTOCOL_VERSION,
  parseReplyMessage,
  parseResult,
  type InferenceArgs,
  type InferenceOp,
  type InferenceResult,
  type ModelTaskWork,
  type ProgressEvent,
  type RequestMessage,
} from '../common/inference-protocol';
import type { DeviceRequest, PrecisionRequest } from '../../shared/devices';
import type { TaskProgress } from '../../shared/models';
import type { ChildExit, ChildLike, Spawner } from './child';
import { Watchdog } from './watchdog';

export type { ChildExit, ChildLike, Spawner } from './child';

/** An inspect target as the inference process takes it. */
export type InspectTargetArgs = InferenceArgs<'inspect'>['target'];

/** Lifecycle of the inference process, as the UI shows it. */
export type InferenceState = EngineStatus['state'];

/** Emitted whenever the state changes; `message` says what happened after a crash. */
export interface InferenceStateChange {
  state: InferenceState;
  message?: string;
}

/** Streaming callbacks of one generation. */
export interface GenerateHandlers {
  onStart?(info: GenerationStartInfo): void;
  onDelta?(sequence: number, text: string): void;
}

/** Options of an InferenceClient. */
export interface InferenceClientOptions {
  spawn: Spawner;
  log?: (line: string) => void;
  /** Milliseconds before an unanswered request is given up (0 = never); defaults in `defaultTimeoutsMs`. */
  timeoutsMs?: Partial<Record<InferenceOp, number>>;
  /** How long a cancelled generation may take to return its partial result before it is rejected. */
  cancelGraceMs?: number;
  /** Silence (not even a heartbeat) after which the process counts as hung and is replaced (default 15 s). */
  hangMs?: number;
  /** Time a running generation may stream nothing before the process counts as hung (default 5 minutes: a cold GPT-2 XL load). */
  stallMs?: number;
}

/**
 * Per-operation limits. Generation, import (GPT-2 XL builds minutes of graph)
 * and logits have none: their length depends on the model and is bounded by
 * the user's cancel and by the process's death.
 */
export const defaultTimeoutsMs: Record<InferenceOp, number> = {
  generate: 0,
  cancel: 10_000,
  tokenize: 120_000,
  logits: 0,
  importModel: 0,
  unload: 30_000,
  status: 30_000,
  probe: 120_000,
  modelTask: 0,
  load: 0,
  loadedModels: 30_000,
  // An inspect pass over GPT-2 Large takes tens of seconds on two cores (GPT-2 XL longer); its length is
  // bounded by the model, the admission bound on the main side and the process's death.
  inspect: 0,
  inspectProbs: 0,
  inspectAttention: 0,
  inspectOverview: 0,
  inspectLens: 0,
  inspectPositional: 120_000,
  inspectTokens: 120_000,
  wordPiece: 120_000,
  importBertTokenizer: 120_000,
  compareGenerate: 0,
  compareScore: 0,
  tokenStrings: 120_000,
};

interface Pending {
  op: InferenceOp;
  resolve(value: unknown): void;
  reject(error: ApiError): void;
  onEvent?(event: ProgressEvent): void;
  timer?: ReturnType<typeof setTimeout>;
}

/** Requests work from the inference process; see the module comment. */
export class InferenceClient {
  readonly #spawn: Spawner;
  readonly #log: (line: string) => void;
  readonly #timeouts: Record<InferenceOp, number>;
  readonly #cancelGraceMs: number;
  readonly #hangMs: number;
  readonly #stallMs: number;
  readonly #pending = new Map<number, Pending>();
  #watchdog: Watchdog | null = null;
  readonly #listeners = new Set<(change: InferenceStateChange) => void>();
  #child: ChildLike | null = null;
  #exited: Promise<void> = Promise.resolve();
  #seq = 0;
  #state: InferenceStateChange = { state: 'stopped' };
  #closed = false;

  constructor(options: InferenceClientOptions) {
    this.#spawn = options.spawn;
    this.#log = options.log ?? (() => {});
    this.#timeouts = { ...defaultTimeoutsMs, ...options.timeoutsMs };
    this.#cancelGraceMs = options.cancelGraceMs ?? 5_000;
    this.#hangMs = options.hangMs ?? 15_000;
    this.#stallMs = options.stallMs ?? 300_000;
  }

  /** The current state and, after a crash, what happened. */
  get state(): InferenceStateChange {
    return { ...this.#state };
  }

  /** Whether a process is up (or starting). */
  get running(): boolean {
    return this.#child !== null;
  }

  /** Calls `listener` on every state change; returns an unsubscribe function. */
  onStateChange(listener: (change: InferenceStateChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Runs a generation, streaming its start and deltas; `signal` cancels it (the partial result still resolves). */
  generate(args: InferenceArgs<'generate'>, handlers: GenerateHandlers = {}, signal?: AbortSignal): Promise<InferenceResult<'generate'>> {
    return this.#streamed('generate', args, handlers, signal);
  }

  // ---- compare
  /** A Compare column: a generation in the given precision, with its time to first token and peak memory measured in the process. */
  compareGenerate(args: InferenceArgs<'compareGenerate'>, handlers: GenerateHandlers = {}, signal?: AbortSignal): Promise<InferenceResult<'compareGenerate'>> {
    return this.#streamed('compareGenerate', args, handlers, signal);
  }

  /** Log-probabilities of each continuation's tokens after the prompt under one model (Compare's perplexity). */
  compareScore(args: InferenceArgs<'compareScore'>): Promise<InferenceResult<'compareScore'>> {
    return this.#request('compareScore', args).promise;
  }

  #streamed<O extends 'generate' | 'compareGenerate'>(op: O, args: InferenceArgs<O>, handlers: GenerateHandlers, signal?: AbortSignal): Promise<InferenceResult<O>> {
    if (signal?.aborted) return Promise.reject(new ApiError('cancelled', 'the generation was cancelled before it started'));
    const onEvent = (event: ProgressEvent): void => {
      if (event.type === 'task') return;
      if (event.type === 'started') {
        const { type: _type, ...info } = event;
        handlers.onStart?.(info);
      } else {
        handlers.onDelta?.(event.sequence, event.text);
      }
    };
    const { seq, promise } = this.#request(op, args, onEvent);
    if (signal) {
      const onAbort = (): void => {
        this.#request('cancel', { target: seq }).promise.catch(() => {});
        // A process stuck in a native call never answers; do not leave the caller waiting on it.
        const grace = setTimeout(() => {
          const pending = this.#pending.get(seq);
          if (!pending) return;
          this.#settle(seq);
          pending.reject(new ApiError('cancelled', 'the generation was cancelled (the inference process did not stop in time)'));
        }, this.#cancelGraceMs);
        grace.unref?.();
        void promise.finally(() => clearTimeout(grace)).catch(() => {});
      };
      signal.addEventListener('abort', onAbort, { once: true });
      void promise.finally(() => signal.removeEventListener('abort', onAbort)).catch(() => {});
    }
    return promise;
  }

  /** Token ids and display strings of `text` under `modelId`'s tokenizer. */
  tokenize(modelId: string, text: string): Promise<InferenceResult<'tokenize'>> {
    return this.#request('tokenize', { modelId, text }).promise;
  }

  /** Display text of each token id under `modelId`'s tokenizer (the /v1 routes' logprobs). */
  tokenStrings(modelId: string, ids: number[]): Promise<InferenceResult<'tokenStrings'>> {
    return this.#request('tokenStrings', { modelId, ids }).promise;
  }

  /** Logits of the last position (and of every position when `all`). */
  logits(modelId: string, prompt: string, all: boolean): Promise<InferenceResult<'logits'>> {
    return this.#request('logits', { modelId, prompt, all }).promise;
  }

  /** Imports a checkpoint folder into the model store (graph building runs in the inference process). */
  importModel(srcDir: string, id: string): Promise<InferenceResult<'importModel'>> {
    return this.#request('importModel', { srcDir, id }).promise;
  }

  /** Releases a loaded model; a no-op when no process is running (nothing is loaded then). */
  async unload(modelId: string): Promise<void> {
    if (!this.#child) return;
    await this.#request('unload', { modelId }).promise;
  }

  /** The process id and the models it has loaded (starts the process). */
  status(): Promise<InferenceResult<'status'>> {
    return this.#request('status', {}).promise;
  }

  /** Which devices the engine can run on (starts the process). */
  async probe(): Promise<DeviceStatus[]> {
    return (await this.#request('probe', {}).promise).devices;
  }

  // ---- models

  /** Runs a model task (pull, import, conversion) in the inference process's task thread; `signal` stops it. */
  modelTask(work: ModelTaskWork, onProgress: (progress: TaskProgress) => void, signal?: AbortSignal): Promise<InferenceResult<'modelTask'>> {
    return this.#withCancel(this.#request('modelTask', { work }, (event) => {
      if (event.type === 'task') onProgress(event.progress);
    }), signal);
  }

  /** Opens a model's decoder (reading its files with progress), unloading idle ones when memory is short. */
  load(modelId: string, precision: PrecisionRequest, device: DeviceRequest, onProgress: (progress: TaskProgress) => void, signal?: AbortSignal): Promise<InferenceResult<'load'>> {
    return this.#withCancel(this.#request('load', { modelId, precision, device }, (event) => {
      if (event.type === 'task') onProgress(event.progress);
    }), signal);
  }

  /** The decoders the process holds, with the memory each took; nothing when no process runs. */
  async loadedModels(): Promise<InferenceResult<'loadedModels'>['loaded']> {
    if (!this.#child) return [];
    return (await this.#request('loadedModels', {}).promise).loaded;
  }

  /** Sends a cancel for request `seq` when `signal` aborts; the request still answers (as cancelled). */
  #withCancel<T>(request: { seq: number; promise: Promise<T> }, signal?: AbortSignal): Promise<T> {
    if (!signal) return request.promise;
    const onAbort = (): void => void this.#request('cancel', { target: request.seq }).promise.catch(() => {});
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    return request.promise.finally(() => signal.removeEventListener('abort', onAbort));
  }

  // ---- inspect (issue 8)

  /** Runs the inspect pass (or finds it held): its summary. */
  inspect(target: InspectTargetArgs): Promise<InferenceResult<'inspect'>> {
    return this.#request('inspect', { target }).promise;
  }

  /** Every position's next-token log-probability with the top alternatives. */
  inspectProbs(target: InspectTargetArgs): Promise<InferenceResult<'inspectProbs'>> {
    return this.#request('inspectProbs', { target }).promise;
  }

  /** One layer's attention (float16 lower triangles). */
  inspectAttention(target: InspectTargetArgs, layer: number): Promise<InferenceResult<'inspectAttention'>> {
    return this.#request('inspectAttention', { target, layer }).promise;
  }

  /** Every layer × head pooled to size × size cells. */
  inspectOverview(target: InspectTargetArgs, size: number): Promise<InferenceResult<'inspectOverview'>> {
    return this.#request('inspectOverview', { target, size }).promise;
  }

  /** The logit lens after block `layer`, top `k`. */
  inspectLens(target: InspectTargetArgs, layer: number, k: number): Promise<InferenceResult<'inspectLens'>> {
    return this.#request('inspectLens', { target, layer, k }).promise;
  }

  /** Sinusoidal and learned positional encodings of `modelId`. */
  inspectPositional(args: InferenceArgs<'inspectPositional'>): Promise<InferenceResult<'inspectPositional'>> {
    return this.#request('inspectPositional', args).promise;
  }

  /** GPT-2 chips of a text or of token ids. */
  inspectTokens(args: InferenceArgs<'inspectTokens'>): Promise<InferenceResult<'inspectTokens'>> {
    return this.#request('inspectTokens', args).promise;
  }

  /** BERT WordPiece tokens, or why they are unavailable. */
  wordPiece(text: string): Promise<InferenceResult<'wordPiece'>> {
    return this.#request('wordPiece', { text }).promise;
  }

  /** Installs the BERT tokenizer from `srcDir`. */
  async importBertTokenizer(srcDir: string): Promise<void> {
    await this.#request('importBertTokenizer', { srcDir }).promise;
  }

  /** Ends the process and rejects whatever is in flight; the client cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return this.#exited;
    this.#closed = true;
    this.#rejectAll(new ApiError('cancelled', 'the inference process was shut down'));
    const child = this.#child;
    if (child) {
      try {
        child.kill();
      } catch (error) {
        this.#log(`inference: kill failed: ${errorMessage(error)}`);
      }
    }
    await this.#exited;
    this.#setState({ state: 'stopped' });
  }

  #request<O extends InferenceOp>(
    op: O,
    args: InferenceArgs<O>,
    onEvent?: (event: ProgressEvent) => void,
  ): { seq: number; promise: Promise<InferenceResult<O>> } {
    const seq = ++this.#seq;
    const promise = new Promise<InferenceResult<O>>((resolve, reject) => {
      if (this.#closed) {
        reject(new ApiError('cancelled', 'the inference process was shut down'));
        return;
      }
      let child: ChildLike;
      try {
        child = this.#ensureChild();
      } catch (error) {
        reject(new ApiError('engine_crashed', `could not start the inference process: ${errorMessage(error)}`));
        return;
      }
      const pending: Pending = { op, resolve: resolve as (value: unknown) => void, reject, onEvent };
      const timeoutMs = this.#timeouts[op];
      if (timeoutMs > 0) {
        pending.timer = setTimeout(() => {
          this.#settle(seq);
          reject(new ApiError('internal', `the inference process did not answer "${op}" within ${Math.round(timeoutMs / 1000)} s`));
        }, timeoutMs);
        pending.timer.unref?.();
      }
      this.#pending.set(seq, pending);
      if (op === 'generate' || op === 'compareGenerate') this.#watchdog?.progressed(seq);
      const message: RequestMessage = { seq, request: { op, args } };
      try {
        child.postMessage(message);
      } catch (error) {
        // The channel closes just before the exit is reported; the exit handler explains the crash.
        this.#settle(seq);
        reject(new ApiError('engine_crashed', `the inference process is not reachable: ${errorMessage(error)}`));
      }
    });
    return { seq, promise };
  }

  #ensureChild(): ChildLike {
    if (this.#child) return this.#child;
    const child = this.#spawn();
    this.#child = child;
    let markExited: () => void = () => {};
    this.#exited = new Promise<void>((resolve) => (markExited = resolve));
    this.#setState({ state: 'starting' });
    this.#watchdog = new Watchdog({
      hangMs: this.#hangMs,
      stallMs: this.#stallMs,
      onHang: (reason) => {
        if (this.#child === child) this.#replace(child, `the inference process stopped responding (${reason}); it was stopped and the next request starts a new one`);
      },
    });
    child.onMessage((message) => {
      if (this.#child === child) this.#onMessage(message);
    });
    child.onExit((exit) => {
      markExited();
      if (this.#child === child) this.#onExit(exit);
    });
    return child;
  }

  /** Gives up on a process that still runs but cannot be used: it is killed, everything in flight fails as a crash. */
  #replace(child: ChildLike, message: string): void {
    this.#child = null;
    this.#watchdog?.stop();
    this.#watchdog = null;
    this.#log(`inference: ${message}`);
    try {
      child.kill(true);
    } catch (error) {
      this.#log(`inference: kill failed: ${errorMessage(error)}`);
    }
    this.#rejectAll(new ApiError('engine_crashed', message));
    this.#setState({ state: 'crashed', message });
  }

  #onMessage(raw: unknown): void {
    const parsed = parseReplyMessage(raw);
    if (!parsed.ok) {
      this.#log(`inference: dropped a reply: ${parsed.problem}`);
      return;
    }
    const message = parsed.message;
    this.#watchdog?.heard();
    if ('heartbeat' in message) return;
    if ('hello' in message) {
      if (message.hello.protocol !== PROTOCOL_VERSION) {
        // A stale build of the inference process: nothing it says can be trusted to mean what we think.
        const child = this.#child;
        if (child) {
          this.#replace(
            child,
            `the inference process speaks protocol ${message.hello.protocol}, this app speaks ${PROTOCOL_VERSION} (a stale build: run \`npm run build\`)`,
          );
        }
        return;
      }
      this.#setState({ state: 'ready' });
      return;
    }
    const pending = this.#pending.get(message.seq);
    if (!pending) return; // answered after a timeout or cancel grace: the caller has moved on
    if ('event' in message) {
      this.#watchdog?.progressed(message.seq);
      pending.onEvent?.(message.event);
      return;
    }
    this.#settle(message.seq);
    if ('error' in message) {
      pending.reject(apiErrorFromKind(message.error.kind, message.error.message));
      return;
    }
    const result = parseResult(pending.op, message.result);
    if (result.ok) pending.resolve(result.result);
    else pending.reject(new ApiError('internal', `the inference process sent a malformed ${result.problem}`));
  }

  #onExit(exit: ChildExit): void {
    this.#child = null;
    this.#watchdog?.stop();
    this.#watchdog = null;
    if (this.#closed) return;
    const how = exit.signal
      ? `signal ${exit.signal}${exit.signal === 'SIGKILL' ? ', possibly out of memory' : ''}`
      : `exit code ${exit.code ?? 'unknown'}`;
    const message = `the inference process stopped (${how}); the next request starts it again`;
    this.#log(`inference: ${message}`);
    this.#rejectAll(new ApiError('engine_crashed', message));
    this.#setState({ state: 'crashed', message });
  }

  #settle(seq: number): void {
    const pending = this.#pending.get(seq);
    if (pending?.timer) clearTimeout(pending.timer);
    this.#pending.delete(seq);
    this.#watchdog?.forget(seq);
  }

  #rejectAll(error: ApiError): void {
    const all = [...this.#pending.values()];
    for (const pending of all) if (pending.timer) clearTimeout(pending.timer);
    this.#pending.clear();
    for (const pending of all) pending.reject(error);
  }

  #setState(change: InferenceStateChange): void {
    this.#state = change;
    for (const listener of [...this.#listeners]) {
      try {
        listener({ ...change });
      } catch (error) {
        this.#log(`inference: a state listener threw: ${errorMessage(error)}`);
      }
    }
  }
}
