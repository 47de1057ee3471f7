/**
 * Test doubles for the inference side: a scripted engine that satisfies the
 * inference server's InferenceEngine, and an in-memory spawner that runs the
 * real protocol server (serveInference) over a fake process link, with
 * messages structured-cloned as they would be between processes.
 */
import { EngineError } from '../../src/main/engine/types';
import type { ChildExit, ChildLike, Spawner } from '../../src/main/inference/child';
import { serveInference, type InferenceEngine, type InferenceServer } from '../../src/main/inference-process/server';
import type { DeviceStatus } from '../../src/shared/api';
import { toHalfBits } from '../../src/main/engine/onnx/variant';

type GenerateRequest = Parameters<InferenceEngine['generate']>[0];
type GenerateResult = Awaited<ReturnType<InferenceEngine['generate']>>;

/** Options of the scripted engine. */
export interface FakeEngineOptions {
  /** Text each sequence produces, one delta per element (default: [' one', ' two', ' three']). */
  pieces?: string[];
  /** Text of one sequence for a seed, one delta per element; overrides `pieces` (sequences that differ, as sampled ones do). */
  sequencePieces?: (sequence: number, seed: number) => string[];
  /** Milliseconds between deltas (default 0: a macrotask between each). */
  stepMs?: number;
  /** Model ids the engine knows (default ['tiny']). */
  models?: string[];
  devices?: DeviceStatus[];
}

/** A scripted engine: deterministic text, real cancellation, recorded calls. */
export class FakeEngine implements InferenceEngine {
  readonly calls: { method: string; args: unknown[] }[] = [];
  readonly #options: Required<Omit<FakeEngineOptions, 'sequencePieces'>> & Pick<FakeEngineOptions, 'sequencePieces'>;
  readonly #loaded = new Map<string, 'cpu'>();
  /** When set, the next generate call throws this. */
  failNextGenerate: Error | null = null;
  /** When set, generate waits for it after the first delta (lets a test act mid-generation). */
  holdAfterFirstDelta: Promise<void> | null = null;
  /** Every generation's model, requested device and precision, and when it started and ended (performance.now()). */
  readonly spans: { modelId: string; device: string; precision: string; start: number; end: number }[] = [];
  /** Sequences of the generations running now, and the most there ever were at once. */
  runningSequences = 0;
  peakRunningSequences = 0;

  constructor(options: FakeEngineOptions = {}) {
    this.#options = {
      pieces: options.pieces ?? [' one', ' two', ' three'],
      sequencePieces: options.sequencePieces,
      stepMs: options.stepMs ?? 0,
      models: options.models ?? ['tiny'],
      devices: options.devices ?? [{ name: 'cpu', available: true }, { name: 'webgpu', available: false, reason: 'no adapter' }, { name: 'cuda', available: false, reason: 'not installed' }],
    };
  }

  readonly models = {
    import: async (srcDir: string, id: string) => {
      this.calls.push({ method: 'import', args: [srcDir, id] });
      if (srcDir.includes('bad')) throw new EngineError('bad_input', `${srcDir}/config.json: malformed JSON`);
      return {
        id,
        name: `fake ${id}`,
        config: { nLayer: 2, nEmbd: 32, nHead: 2, nPositions: 64, vocabSize: 50257 },
        dtype: 'F32' as const,
        parameters: 1000,
        sizeBytes: 4000,
        importedAt: '2024-01-01T00:00:00.000Z',
      };
    },
  };

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    this.calls.push({ method: 'generate', args: [{ modelId: request.modelId, prompt: request.prompt, memory: request.memory, params: request.params, ...(request.precision ? { precision: request.precision } : {}) }] });
    this.#requireModel(request.modelId);
    if (this.failNextGenerate) {
      const error = this.failNextGenerate;
      this.failNextGenerate = null;
      throw error;
    }
    const n = request.params.numReturnSequences;
    this.runningSequences += n;
    this.peakRunningSequences = Math.max(this.peakRunningSequences, this.runningSequences);
    const start = performance.now();
    try {
      return await this.#stream(request, n);
    } finally {
      this.runningSequences -= n;
      this.spans.push({ modelId: request.modelId, device: request.params.device, precision: request.precision ?? 'auto', start, end: performance.now() });
    }
  }

  async #stream(request: GenerateRequest, n: number): Promise<GenerateResult> {
    const seed = request.params.seed ?? 4242;
    this.#loaded.set(request.modelId, 'cpu');
    // A GPU the probe did not find falls back to the cpu with the reason, as the real decoder does.
    const wanted = this.#options.devices.find((d) => d.name === request.params.device);
    const fallbackReason = wanted && wanted.name !== 'cpu' && !wanted.available ? `${wanted.name} failed, using cpu: ${wanted.reason ?? 'unavailable'}` : undefined;
    request.onStart?.({ device: 'cpu', precision: 'fp32', seed, promptTokens: 5, truncatedPromptTokens: 0, numSequences: n });
    const texts = Array.from({ length: n }, () => '');
    const pieces = Array.from({ length: n }, (_, sequence) => this.#options.sequencePieces?.(sequence, seed) ?? this.#options.pieces);
    const steps = Math.max(0, ...pieces.map((p) => p.length));
    let cancelled = false;
    for (let step = 0; step < steps; step += 1) {
      if (request.signal?.aborted) {
        cancelled = true;
        break;
      }
      for (let sequence = 0; sequence < n; sequence += 1) {
        const piece = pieces[sequence]?.[step];
        if (piece === undefined) continue;
        texts[sequence] += piece;
        request.onDelta?.(sequence, piece);
      }
      if (step === 0 && this.holdAfterFirstDelta) await this.holdAfterFirstDelta;
      await new Promise((resolve) => setTimeout(resolve, this.#options.stepMs));
    }
    if (request.signal?.aborted) cancelled = true;
    return {
      modelId: request.modelId,
      device: 'cpu',
      precision: 'fp32',
      ...(fallbackReason !== undefined ? { deviceFallbackReason: fallbackReason } : {}),
      seed,
      promptTokens: 5,
      truncatedPromptTokens: 0,
      sequences: texts.map((text) => ({ text, tokenIds: text.split(' ').filter(Boolean).map((_, i) => i + 1), finishReason: cancelled ? ('cancelled' as const) : ('length' as const) })),
      timings: { loadMs: 1, prefillMs: 2, decodeMs: 3, tokensPerSecond: 100 },
    };
  }

  /**
   * A scripted inspector: words are tokens (id = index), 2 layers × 2 heads of uniform causal
   * attention (query i puts 1/(i+1) on every key), every next token at log(1/2).
   */
  readonly inspector: InferenceEngine['inspector'] = {
    inspect: async (req) => {
      this.calls.push({ method: 'inspect', args: [req] });
      const ids = this.#inspectIds(req);
      const top = [{ id: 0, token: ' one', logprob: Math.log(0.5) }];
      return {
        modelId: req.modelId, device: 'cpu', tokenIds: ids,
        tokens: ids.map((id) => ({ id, text: ` w${id}`, label: `·w${id}`, bytes: '20' })),
        layers: 2, heads: 2,
        positions: ids.slice(1).map(() => ({ logprob: Math.log(0.5), entropy: Math.log(2), top })),
        next: { entropy: Math.log(2), top },
        sizes: { attentionLayerBytes: 2 * 2 * ((ids.length * (ids.length + 1)) / 2), heldBytes: 0 },
        timings: { loadMs: 0, forwardMs: 0, readoutMs: 0 }, reused: false,
      };
    },
    attention: async (req, layer) => {
      this.calls.push({ method: 'attention', args: [req, layer] });
      const n = this.#inspectIds(req).length;
      if (layer >= 2) throw new EngineError('bad_input', `layer ${layer} is outside 0..1`);
      const values = new Float32Array(2 * ((n * (n + 1)) / 2));
      let at = 0;
      for (let h = 0; h < 2; h++) for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) values[at++] = 1 / (i + 1);
      return { layer, heads: 2, seqLen: n, encoding: 'f16-tril', data: toHalfBits(values) };
    },
    overview: async (req, size) => {
      const n = this.#inspectIds(req).length;
      const cells = Math.min(size, n);
      return { layers: 2, heads: 2, seqLen: n, size: cells, blockStarts: Array.from({ length: cells }, (_, i) => i), data: new Uint8Array(4 * cells * cells) };
    },
    lens: async (req, layer, k) => {
      const n = this.#inspectIds(req).length;
      return { layer, seqLen: n, k, topIds: new Int32Array(n * k), topLogprobs: new Float32Array(n * k), nextLogprobs: new Float32Array(n - 1), entropy: new Float32Array(n) };
    },
    positionalEncodings: async () => {
      throw new EngineError('not_found', 'the fake engine has no position embeddings');
    },
    tokenTexts: async (_modelId, ids) => ids.map((id) => ` w${id}`),
    tokenViews: async (req) => {
      const ids = this.#inspectIds(req);
      return { tokenIds: ids, tokens: ids.map((id) => ({ id, text: ` w${id}`, label: `·w${id}`, bytes: '20' })), window: 64 };
    },
  };

  /** BERT WordPiece as the scripted engine knows it: not installed. */
  async wordPiece(_text: string): Promise<{ tokens: string[]; ids: number[] }> {
    throw new EngineError('not_found', 'no BERT tokenizer in the fake engine');
  }

  /** Records the call. */
  async importBertTokenizer(dir: string): Promise<void> {
    this.calls.push({ method: 'importBertTokenizer', args: [dir] });
  }

  #inspectIds(req: { modelId: string; text?: string; tokenIds?: readonly number[] }): number[] {
    this.#requireModel(req.modelId);
    if (req.tokenIds) return [...req.tokenIds];
    return (req.text ?? '').split(/(?= )/).filter((t) => t.length > 0).map((_, i) => i);
  }

  async tokenize(modelId: string, text: string): Promise<{ ids: number[]; tokens: string[] }> {
    this.calls.push({ method: 'tokenize', args: [modelId, text] });
    this.#requireModel(modelId);
    const tokens = text.split(/(?= )/).filter((t) => t.length > 0);
    return { ids: tokens.map((_, i) => i), tokens };
  }

  async tokenStrings(modelId: string, ids: readonly number[]): Promise<string[]> {
    this.calls.push({ method: 'tokenStrings', args: [modelId, ids] });
    this.#requireModel(modelId);
    return ids.map((id) => `<${id}>`);
  }

  async logits(modelId: string, prompt: string, all: boolean): Promise<{ tokenIds: number[]; logitsLast: Float32Array; logits?: Float32Array[] }> {
    this.calls.push({ method: 'logits', args: [modelId, prompt, all] });
    this.#requireModel(modelId);
    const last = new Float32Array([0.5, -Infinity, 2]);
    return all ? { tokenIds: [1, 2], logitsLast: last, logits: [new Float32Array([1, 2, 3]), last] } : { tokenIds: [1, 2], logitsLast: last };
  }

  /**
   * Scripted scores: token t of a continuation scored by model m gets log p = −(1 + t mod 3) / (1 + the
   * model's index in `models`), so every cell of a perplexity matrix differs and can be checked.
   */
  async scoreContinuations(modelId: string, prompt: string, continuations: readonly (readonly number[])[], device: string, precision: string): Promise<{ logprobs: number[][]; texts: string[][] }> {
    this.calls.push({ method: 'scoreContinuations', args: [modelId, prompt, continuations, device, precision] });
    this.#requireModel(modelId);
    const index = this.#options.models.indexOf(modelId);
    return { logprobs: continuations.map((ids) => ids.map((token) => fakeLogprob(index, token))), texts: continuations.map((ids) => ids.map((token) => ` t${token}`)) };
  }

  loaded(): { modelId: string; device: 'cpu' }[] {
    return [...this.#loaded].map(([modelId, device]) => ({ modelId, device }));
  }

  async probeDevices(): Promise<DeviceStatus[]> {
    this.calls.push({ method: 'probeDevices', args: [] });
    return this.#options.devices.map((d) => ({ ...d }));
  }

  /** How many times the server asked for memory back. */
  memoryReleases = 0;

  releaseIdleMemory(): void {
    this.memoryReleases += 1;
  }

  async unload(modelId: string): Promise<void> {
    this.calls.push({ method: 'unload', args: [modelId] });
    this.#loaded.delete(modelId);
  }

  /** Model tasks report three progress steps (a macrotask apart, so a cancel can land) and then succeed. */
  async runModelTask(...[work, hooks]: Parameters<InferenceEngine['runModelTask']>): ReturnType<InferenceEngine['runModelTask']> {
    this.calls.push({ method: 'runModelTask', args: [work] });
    for (const fraction of [0, 0.5, 1]) {
      if (hooks.signal.aborted) throw new EngineError('cancelled', `${work.kind} was cancelled`);
      hooks.onProgress({ phase: work.kind, fraction });
      await new Promise((resolve) => setTimeout(resolve, this.#options.stepMs));
    }
    const modelId = work.kind === 'pull' || work.kind === 'cache-import' ? (work.id ?? work.name.split('/').pop() ?? work.name) : work.id;
    return { modelId, message: `${work.kind} of ${modelId} done` };
  }

  async load(...[modelId, options]: Parameters<InferenceEngine['load']>): ReturnType<InferenceEngine['load']> {
    this.calls.push({ method: 'load', args: [modelId, options.precision, options.device] });
    this.#requireModel(modelId);
    options.onProgress({ phase: 'reading', fraction: 1, bytesDone: 10, bytesTotal: 10 });
    const alreadyLoaded = this.#loaded.has(modelId);
    this.#loaded.set(modelId, 'cpu');
    return { modelId, device: 'cpu', precision: 'fp32', residentBytes: alreadyLoaded ? null : 1024, loadMs: 1, alreadyLoaded, unloaded: [] };
  }

  loadedDetails(): ReturnType<InferenceEngine['loadedDetails']> {
    return [...this.#loaded].map(([modelId, device]) => ({ modelId, device, precision: 'fp32' as const, residentBytes: 1024 }));
  }

  #requireModel(modelId: string): void {
    if (!this.#options.models.includes(modelId)) throw new EngineError('not_found', `no model with id "${modelId}"`);
  }
}

/** The log-probability FakeEngine.scoreContinuations gives `token` under the model at `modelIndex`. */
export function fakeLogprob(modelIndex: number, token: number): number {
  return -(1 + (token % 3)) / (1 + modelIndex);
}

/** An in-memory "process" running the real protocol server; `crash` plays a sudden death. */
export interface FakeProcess<E extends InferenceEngine = FakeEngine> extends ChildLike {
  readonly engine: E;
  /** Messages the client sent, in order (after cloning). */
  readonly received: unknown[];
  /** Ends the process as a kill signal would: no more replies, exit listeners called. */
  crash(signal?: string): void;
  /** Ends the process as a non-zero exit would. */
  exit(code: number): void;
  /** Delivers a raw message to the client as if the process had sent it. */
  inject(message: unknown): void;
  /** Stops the process as SIGSTOP would: it neither reads nor writes (no heartbeat) until it is killed. */
  stop(): void;
  readonly killed: boolean;
  /** The signal kill() was asked for ('SIGKILL' when it was told to kill at once). */
  readonly killSignal: string | null;
}

/** Options of the in-memory processes. */
export interface FakeSpawnerOptions {
  /** Heartbeat period of the server "in the child" (default 1 s, as in the real process). */
  heartbeatMs?: number;
  /** The protocol version the child says hello with (default: the real one). */
  helloProtocol?: number;
}

/** A spawner of in-memory processes, each with its own FakeEngine (or any engine, e.g. a real Engine on a tiny model). */
export function createFakeSpawner<E extends InferenceEngine = FakeEngine>(
  makeEngine: () => E = () => new FakeEngine() as unknown as E,
  options: FakeSpawnerOptions = {},
): Spawner & { spawned: FakeProcess<E>[] } {
  const spawned: FakeProcess<E>[] = [];
  const spawn = (): FakeProcess<E> => {
    const engine = makeEngine();
    const toClient: ((message: unknown) => void)[] = [];
    const exitListeners: ((exit: ChildExit) => void)[] = [];
    let toServer: (message: unknown) => void = () => {};
    let dead = false;
    let stopped = false;
    let killed = false;
    let killSignal: string | null = null;
    let server: InferenceServer | undefined;
    const received: unknown[] = [];
    const die = (exit: ChildExit): void => {
      if (dead) return;
      dead = true;
      void server?.stop();
      setTimeout(() => exitListeners.forEach((listener) => listener(exit)), 0);
    };
    const process: FakeProcess<E> = {
      engine,
      received,
      get killed() {
        return killed;
      },
      get killSignal() {
        return killSignal;
      },
      postMessage(message) {
        if (dead) throw new Error('channel closed');
        const copy = structuredClone(message);
        received.push(copy);
        setTimeout(() => {
          if (!dead && !stopped) toServer(copy);
        }, 0);
      },
      onMessage(listener) {
        toClient.push(listener);
      },
      onExit(listener) {
        exitListeners.push(listener);
      },
      kill(now = false) {
        killed = true;
        killSignal = now ? 'SIGKILL' : 'SIGTERM';
        // A stopped process only reacts to SIGKILL.
        if (stopped && !now) return;
        die({ code: null, signal: killSignal });
      },
      stop() {
        stopped = true;
      },
      crash(signal = 'SIGKILL') {
        die({ code: null, signal });
      },
      exit(code) {
        die({ code, signal: null });
      },
      inject(message) {
        toClient.forEach((listener) => listener(message));
      },
    };
    // The server starts "in the child" once the client has attached its listeners.
    setTimeout(() => {
      server = serveInference(engine, {
        post: (message) => {
          if (dead || stopped) return;
          const copy = structuredClone('hello' in message && options.helloProtocol !== undefined ? { hello: { ...message.hello, protocol: options.helloProtocol } } : message);
          toClient.forEach((listener) => listener(copy));
        },
        onMessage: (listener) => {
          toServer = listener;
        },
      }, { log: () => {}, heartbeatMs: options.heartbeatMs ?? 1_000 });
    }, 0);
    spawned.push(process);
    return process;
  };
  return Object.assign(spawn, { spawned });
}
