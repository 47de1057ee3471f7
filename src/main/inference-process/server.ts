/**
 * The inference process's side of the protocol: reads numbered requests,
 * runs them on the engine and answers each one exactly once. Transport-free so
 * that it can be tested without a process; process-entry.ts plugs it into
 * Electron's parentPort or Node's IPC channel.
 */
import type { DeviceStatus, GenerationOutcome, GenerationParams, GenerationStartInfo, LoadedModel, Precision, TokenizeResult } from '../../shared/api';
import { errorMessage } from '../common/errors';
import {
  PROTOCOL_VERSION,
  parseRequestMessage,
  InferenceErrorKind,
  type GenerationProgress,
  type InferenceResult,
  type ParsedRequest,
  type ReplyMessage,
} from '../common/inference-protocol';
import { toModelSummary, type StoredModelFields } from '../common/model-summary';

/** What the server needs of the engine (src/main/engine/index.ts `Engine` satisfies it). */
export interface InferenceEngine {
  readonly models: { import(srcDir: string, id: string): Promise<StoredModelFields> };
  generate(request: {
    modelId: string;
    prompt: string;
    memory?: string;
    params: GenerationParams;
    precision?: 'auto' | Precision;
    signal?: AbortSignal;
    onStart?(info: GenerationStartInfo): void;
    onDelta?(sequence: number, text: string): void;
  }): Promise<GenerationOutcome>;
  tokenize(modelId: string, text: string): Promise<TokenizeResult>;
  logits(modelId: string, prompt: string, all: boolean): Promise<{ tokenIds: number[]; logitsLast: Float32Array; logits?: Float32Array[] }>;
  loaded(): LoadedModel[];
  probeDevices(): Promise<DeviceStatus[]>;
  unload(modelId: string): Promise<void>;
  /** Gives memory back after work (collections); models stay loaded. */
  releaseIdleMemory?(): void;
}

/** The two directions of the parent link. */
export interface ParentLink {
  post(message: ReplyMessage): void;
  onMessage(listener: (message: unknown) => void): void;
}

/** How the server reports, beats and tidies up. */
export interface ServeOptions {
  log: (line: string) => void;
  /** Milliseconds between heartbeats, which tell the main side's watchdog this process still runs (default 1 s; 0: none). */
  heartbeatMs?: number;
  /** Milliseconds without work after which the engine gives memory back: its heaps are collected (default 2 s). */
  idleReleaseMs?: number;
  /**
   * Milliseconds without work after which loaded models are unloaded too, giving back onnxruntime's
   * arena and the weights (default 5 minutes, Ollama's keep_alive default; 0: never).
   */
  keepAliveMs?: number;
}

/** Operations that make the engine allocate; the idle release follows the last of them. */
const WORK_OPS = new Set(['generate', 'tokenize', 'logits', 'importModel']);

/** A running server. */
export interface InferenceServer {
  /** Stops beating, cancels every running generation and resolves once every request has ended. */
  stop(): Promise<void>;
}

/** Serves the protocol on `link` until the process ends; announces itself with a hello, then beats. */
export function serveInference(engine: InferenceEngine, link: ParentLink, options: ServeOptions): InferenceServer {
  const { log } = options;
  const heartbeatMs = options.heartbeatMs ?? 1_000;
  const idleReleaseMs = options.idleReleaseMs ?? 2_000;
  const keepAliveMs = options.keepAliveMs ?? 5 * 60_000;
  const running = new Map<number, AbortController>();
  const inFlight = new Set<Promise<unknown>>();
  let working = 0;
  let idleTimers: ReturnType<typeof setTimeout>[] = [];

  const startWork = (): void => {
    working += 1;
    idleTimers.forEach(clearTimeout);
    idleTimers = [];
  };
  const whenIdle = (ms: number, task: () => Promise<void> | void, what: string): void => {
    const timer = setTimeout(() => {
      Promise.resolve()
        .then(task)
        .catch((error: unknown) => log(`inference: could not ${what}: ${errorMessage(error)}`));
    }, ms);
    timer.unref?.();
    idleTimers.push(timer);
  };
  const endWork = (): void => {
    working -= 1;
    if (working > 0) return;
    if (engine.releaseIdleMemory) whenIdle(idleReleaseMs, () => engine.releaseIdleMemory?.(), 'release idle memory');
    if (keepAliveMs > 0) {
      whenIdle(keepAliveMs, async () => {
        for (const { modelId } of engine.loaded()) await engine.unload(modelId);
        engine.releaseIdleMemory?.();
      }, 'unload idle models');
    }
  };

  const reply = (message: ReplyMessage): void => {
    try {
      link.post(message);
    } catch (error) {
      log(`inference: could not post a reply: ${errorMessage(error)}`);
    }
  };

  link.onMessage((message) => {
    const parsed = parseRequestMessage(message);
    if (!parsed.ok) {
      log(`inference: dropped a request: ${parsed.problem}`);
      if (parsed.seq !== undefined) reply({ seq: parsed.seq, error: { kind: 'bad_input', message: parsed.problem } });
      return;
    }
    const work = WORK_OPS.has(parsed.op);
    if (work) startWork();
    const request = run(parsed)
      .then(
        (result) => reply({ seq: parsed.seq, result }),
        (error: unknown) => reply({ seq: parsed.seq, error: toWireError(error) }),
      )
      .finally(() => {
        inFlight.delete(request);
        if (work) endWork();
      });
    inFlight.add(request);
  });

  async function run(request: ParsedRequest): Promise<unknown> {
    switch (request.op) {
      case 'generate': {
        const controller = new AbortController();
        running.set(request.seq, controller);
        const progress = (event: GenerationProgress): void => reply({ seq: request.seq, event });
        try {
          // The engine's outcome is already the wire shape (GenerationOutcome); the client checks it on arrival.
          return (await engine.generate({
            ...request.args,
            signal: controller.signal,
            onStart: (info) => progress({ type: 'started', ...info }),
            onDelta: (sequence, text) => progress({ type: 'delta', sequence, text }),
          })) satisfies InferenceResult<'generate'>;
        } finally {
          running.delete(request.seq);
        }
      }
      case 'cancel': {
        const controller = running.get(request.args.target);
        controller?.abort();
        return { cancelled: controller !== undefined } satisfies InferenceResult<'cancel'>;
      }
      case 'tokenize':
        return (await engine.tokenize(request.args.modelId, request.args.text)) satisfies InferenceResult<'tokenize'>;
      case 'logits': {
        const { tokenIds, logitsLast, logits } = await engine.logits(request.args.modelId, request.args.prompt, request.args.all);
        return { tokenIds, logitsLast, ...(logits ? { logits } : {}) } satisfies InferenceResult<'logits'>;
      }
      case 'importModel':
        return toModelSummary(await engine.models.import(request.args.srcDir, request.args.id)) satisfies InferenceResult<'importModel'>;
      case 'unload':
        await engine.unload(request.args.modelId);
        return {} satisfies InferenceResult<'unload'>;
      case 'status':
        return { pid: process.pid, loaded: engine.loaded().map(({ modelId, device }) => ({ modelId, device })) } satisfies InferenceResult<'status'>;
      case 'probe':
        return { devices: (await engine.probeDevices()).map((d) => ({ ...d })) } satisfies InferenceResult<'probe'>;
    }
  }

  reply({ hello: { pid: process.pid, protocol: PROTOCOL_VERSION } });
  let beat = 0;
  const heartbeat = heartbeatMs > 0 ? setInterval(() => reply({ heartbeat: ++beat }), heartbeatMs) : undefined;
  heartbeat?.unref?.();

  return {
    async stop() {
      clearInterval(heartbeat);
      idleTimers.forEach(clearTimeout);
      for (const controller of running.values()) controller.abort();
      await Promise.allSettled([...inFlight]);
    },
  };
}

/** Engine errors keep their kind; anything else is reported as internal. */
function toWireError(error: unknown): { kind: InferenceErrorKind; message: string } {
  const kind = InferenceErrorKind.safeParse((error as { kind?: unknown } | null)?.kind);
  return { kind: kind.success ? kind.data : 'internal', message: errorMessage(error) };
}
