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
    try {
      return await this.#stream(request, n);
    } finally {
      this.runningSequences -= n;
    }
  }

  async #stream(request: GenerateRequest, n: number): Promise<GenerateResult> {
    const seed = request.params.seed ?? 4242;
    this.#loaded.set(request.modelId, 'cpu');
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
      seed,
      promptTokens: 5,
      truncatedPromptTokens: 0,
      sequences: texts.map((text) => ({ text, tokenIds: text.split(' ').filter(Boolean).map((_, i) => i + 1), finishReason: cancelled ? ('cancelled' as const) : ('length' as const) })),
      timings: { loadMs: 1, prefillMs: 2, decodeMs: 3, tokensPerSecond: 100 },
    };
  }

  async tokenize(modelId: string, text: string): Promise<{ ids: number[]; tokens: string[] }> {
    this.calls.push({ method: 'tokenize', args: [modelId, text] });
    this.#requireModel(modelId);
    const tokens = text.split(/(?= )/).filter((t) => t.length > 0);
    return { ids: tokens.map((_, i) => i), tokens };
  }

  async logits(modelId: string, prompt: string, all: boolean): Promise<{ tokenIds: number[]; logitsLast: Float32Array; logits?: Float32Array[] }> {
    this.calls.push({ method: 'logits', args: [modelId, prompt, all] });
    this.#requireModel(modelId);
    const last = new Float32Array([0.5, -Infinity, 2]);
    return all ? { tokenIds: [1, 2], logitsLast: last, logits: [new Float32Array([1, 2, 3]), last] } : { tokenIds: [1, 2], logitsLast: last };
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

  #requireModel(modelId: string): void {
    if (!this.#options.models.includes(modelId)) throw new EngineError('not_found', `no model with id "${modelId}"`);
  }
}

/** An in-memory "process" running the real protocol server; `crash` plays a sudden death. */
export interface FakeProcess extends ChildLike {
  readonly engine: FakeEngine;
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

/** A spawner of in-memory processes, each with its own FakeEngine. */
export function createFakeSpawner(makeEngine: () => FakeEngine = () => new FakeEngine(), options: FakeSpawnerOptions = {}): Spawner & { spawned: FakeProcess[] } {
  const spawned: FakeProcess[] = [];
  const spawn = (): FakeProcess => {
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
    const process: FakeProcess = {
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
