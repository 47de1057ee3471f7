/**
 * The inference process's side of the protocol: reads numbered requests,
 * runs them on the engine and answers each one exactly once. Transport-free so
 * that it can be tested without a process; process-entry.ts plugs it into
 * Electron's parentPort or Node's IPC channel.
 */
import type { DeviceRequest, DeviceStatus, GenerationOutcome, GenerationParams, GenerationStartInfo, LoadedModel, PrecisionRequest, TokenizeResult } from '../../shared/api';
import { measureGeneration } from '../common/compare-measure';
import { errorMessage } from '../common/errors';
import {
  PROTOCOL_VERSION,
  parseRequestMessage,
  InferenceErrorKind,
  type GenerationProgress,
  type InferenceResult,
  type ParsedRequest,
  type ReplyMessage,
  type ModelTaskOutcome,
  type ModelTaskWork,
} from '../common/inference-protocol';
import type { LoadedModelView, LoadResult, TaskProgress } from '../../shared/models';
import { toModelSummary, type StoredModelFields } from '../common/model-summary';
import { BERT_TOKENIZER_NAME, type Inspector, type InspectRequest } from '../engine';

/** What the server needs of the engine (src/main/engine/index.ts `Engine` satisfies it). */
export interface InferenceEngine {
  readonly models: { import(srcDir: string, id: string): Promise<StoredModelFields> };
  generate(request: {
    modelId: string;
    prompt: string;
    memory?: string;
    params: GenerationParams;
    precision?: PrecisionRequest;
    topLogprobs?: number;
    signal?: AbortSignal;
    onStart?(info: GenerationStartInfo): void;
    onDelta?(sequence: number, text: string): void;
  }): Promise<GenerationOutcome>;
  tokenize(modelId: string, text: string): Promise<TokenizeResult>;
  /** Display text of each token id. */
  tokenStrings(modelId: string, ids: readonly number[]): Promise<string[]>;
  logits(modelId: string, prompt: string, all: boolean): Promise<{ tokenIds: number[]; logitsLast: Float32Array; logits?: Float32Array[] }>;
  loaded(): LoadedModel[];
  probeDevices(): Promise<DeviceStatus[]>;
  unload(modelId: string): Promise<void>;
  scoreContinuations(modelId: string, prompt: string, continuations: readonly (readonly number[])[], device: DeviceRequest, precision: PrecisionRequest): Promise<{ logprobs: number[][]; texts: string[][] }>;
  /** Gives memory back after work (collections); models stay loaded. */
  releaseIdleMemory?(): void;
  // ---- models
  /** Runs a pull, import or conversion (off this thread where it can). */
  runModelTask(work: ModelTaskWork, hooks: { signal: AbortSignal; onProgress: (progress: TaskProgress) => void }): Promise<ModelTaskOutcome>;
  /** Opens a decoder ahead of the first generation, reporting the files read. */
  load(modelId: string, options: { precision: PrecisionRequest; device: DeviceRequest; signal: AbortSignal; onProgress: (progress: TaskProgress) => void }): Promise<LoadResult>;
  /** The decoders held, with the memory each took. */
  loadedDetails(): LoadedModelView[];
  /** Inspect passes (issue 8): attention, next-token log-probabilities, logit lens, positional encodings, chips. */
  readonly inspector: Pick<Inspector, 'inspect' | 'attention' | 'overview' | 'lens' | 'positionalEncodings' | 'tokenTexts' | 'tokenViews'>;
  /** BERT WordPiece tokens with [CLS] … [SEP]; EngineError not_found when the tokenizer is not installed. */
  wordPiece(text: string): Promise<{ tokens: string[]; ids: number[] }>;
  /** Installs the BERT tokenizer files found in `dir`. */
  importBertTokenizer(dir: string): Promise<void>;
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
const WORK_OPS = new Set(['generate', 'tokenize', 'logits', 'importModel', 'tokenStrings', 'compareGenerate', 'compareScore', 'modelTask', 'load', 'inspect', 'inspectProbs', 'inspectAttention', 'inspectOverview', 'inspectLens', 'inspectPositional', 'inspectTokens', 'wordPiece']);

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
      // ---- inspect (issue 8)
      case 'inspect': {
        const result = await engine.inspector.inspect(inspectRequest(request.args.target));
        return {
          modelId: result.modelId,
          device: result.device,
          ...(result.deviceFallbackReason !== undefined ? { deviceFallbackReason: result.deviceFallbackReason } : {}),
          tokenIds: [...result.tokenIds],
          tokens: result.tokens.map((t) => ({ ...t })),
          layers: result.layers,
          heads: result.heads,
          sizes: { ...result.sizes },
          timings: { ...result.timings },
          reused: result.reused,
        } satisfies InferenceResult<'inspect'>;
      }
      case 'inspectProbs': {
        const result = await engine.inspector.inspect(inspectRequest(request.args.target));
        const top = (list: readonly { id: number; token: string; logprob: number }[]) => list.map(({ id, token, logprob }) => ({ id, token, logprob }));
        return {
          tokenIds: [...result.tokenIds],
          positions: result.positions.map((p) => ({ logprob: p.logprob, entropy: p.entropy, top: top(p.top) })),
          next: { entropy: result.next.entropy, top: top(result.next.top) },
        } satisfies InferenceResult<'inspectProbs'>;
      }
      case 'inspectAttention': {
        const { layer, heads, seqLen, encoding, data } = await engine.inspector.attention(inspectRequest(request.args.target), request.args.layer);
        return { layer, heads, seqLen, encoding, data } satisfies InferenceResult<'inspectAttention'>;
      }
      case 'inspectOverview': {
        const { layers, heads, seqLen, size, blockStarts, data } = await engine.inspector.overview(inspectRequest(request.args.target), request.args.size);
        return { layers, heads, seqLen, size, blockStarts: [...blockStarts], data } satisfies InferenceResult<'inspectOverview'>;
      }
      case 'inspectLens': {
        const target = inspectRequest(request.args.target);
        const lens = await engine.inspector.lens(target, request.args.layer, request.args.k);
        const ids = [...new Set(lens.topIds)];
        const texts = await engine.inspector.tokenTexts(target.modelId, ids);
        return {
          layer: lens.layer, seqLen: lens.seqLen, k: lens.k, topIds: lens.topIds, topLogprobs: lens.topLogprobs, nextLogprobs: lens.nextLogprobs, entropy: lens.entropy,
          vocabulary: { ids, texts },
        } satisfies InferenceResult<'inspectLens'>;
      }
      case 'inspectPositional': {
        const { modelId, ...options } = request.args;
        const p = await engine.inspector.positionalEncodings(modelId, options);
        const matrix = (m: typeof p.sinusoidal.values) => ({ rows: m.rows, cols: m.cols, data: m.data, min: m.min, max: m.max });
        const encoding = (e: typeof p.sinusoidal) => ({ values: matrix(e.values), similarity: matrix(e.similarity) });
        return {
          nPositions: p.nPositions, nEmbd: p.nEmbd, positions: [...p.positions], dims: [...p.dims], similarityPositions: [...p.similarityPositions],
          sinusoidal: encoding(p.sinusoidal), learned: encoding(p.learned),
        } satisfies InferenceResult<'inspectPositional'>;
      }
      case 'inspectTokens': {
        const { modelId, text, tokenIds } = request.args;
        const views = await engine.inspector.tokenViews({ modelId, ...(text !== undefined ? { text } : { tokenIds: tokenIds ?? [] }) });
        return { modelId, tokenIds: views.tokenIds, tokens: views.tokens.map((t) => ({ ...t })), window: views.window } satisfies InferenceResult<'inspectTokens'>;
      }
      case 'wordPiece':
        try {
          const { tokens, ids } = await engine.wordPiece(request.args.text);
          return { available: true, tokens, ids } satisfies InferenceResult<'wordPiece'>;
        } catch (error) {
          // A missing tokenizer is a state the tokens view explains, not a failure of the call.
          if ((error as { kind?: unknown } | null)?.kind !== 'not_found') throw error;
          return { available: false, message: errorMessage(error), pullName: BERT_TOKENIZER_NAME } satisfies InferenceResult<'wordPiece'>;
        }
      case 'importBertTokenizer':
        await engine.importBertTokenizer(request.args.srcDir);
        return {} satisfies InferenceResult<'importBertTokenizer'>;
      case 'status':
        return { pid: process.pid, loaded: engine.loaded().map(({ modelId, device }) => ({ modelId, device })) } satisfies InferenceResult<'status'>;
      case 'probe':
        return { devices: (await engine.probeDevices()).map((d) => ({ ...d })) } satisfies InferenceResult<'probe'>;
      case 'modelTask':
      case 'load': {
        const controller = new AbortController();
        running.set(request.seq, controller);
        const onProgress = (progress: TaskProgress): void => reply({ seq: request.seq, event: { type: 'task', progress } });
        try {
          if (request.op === 'load') {
            const { modelId, precision, device } = request.args;
            return (await engine.load(modelId, { precision, device, signal: controller.signal, onProgress })) satisfies InferenceResult<'load'>;
          }
          return (await engine.runModelTask(request.args.work, { signal: controller.signal, onProgress })) satisfies InferenceResult<'modelTask'>;
        } finally {
          running.delete(request.seq);
        }
      }
      case 'loadedModels':
        return { loaded: engine.loadedDetails() } satisfies InferenceResult<'loadedModels'>;
      // ---- compare
      case 'compareGenerate': {
        const controller = new AbortController();
        running.set(request.seq, controller);
        const progress = (event: GenerationProgress): void => reply({ seq: request.seq, event });
        try {
          return (await measureGeneration((onDelta) =>
            engine.generate({
              ...request.args,
              memory: '',
              signal: controller.signal,
              onStart: (info) => progress({ type: 'started', ...info }),
              onDelta: (sequence, text) => {
                onDelta();
                progress({ type: 'delta', sequence, text });
              },
            }),
          )) satisfies InferenceResult<'compareGenerate'>;
        } finally {
          running.delete(request.seq);
        }
      }
      case 'compareScore': {
        const { modelId, prompt, continuations, device, precision } = request.args;
        const { logprobs, texts } = await engine.scoreContinuations(modelId, prompt, continuations, device, precision);
        return { logprobs, texts } satisfies InferenceResult<'compareScore'>;
      }
      // ---- openai (/v1)
      case 'tokenStrings':
        return { strings: await engine.tokenStrings(request.args.modelId, request.args.ids) } satisfies InferenceResult<'tokenStrings'>;
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

/** The engine's request for a checked inspect target. */
function inspectRequest(target: { modelId: string; text?: string | undefined; tokenIds?: number[] | undefined; device: InspectRequest['device'] }): InspectRequest {
  return { modelId: target.modelId, device: target.device, ...(target.text !== undefined ? { text: target.text } : { tokenIds: target.tokenIds ?? [] }) };
}

/** Engine errors keep their kind; anything else is reported as internal. */
function toWireError(error: unknown): { kind: InferenceErrorKind; message: string } {
  const kind = InferenceErrorKind.safeParse((error as { kind?: unknown } | null)?.kind);
  return { kind: kind.success ? kind.data : 'internal', message: errorMessage(error) };
}
