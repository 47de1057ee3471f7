/**
 * The engine's public surface: models on disk, loaded decoders, generation,
 * tokenization and raw logits. Plain Node (CLI, serve, the app's inference
 * process); never imports electron.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DeviceStatus, GenerationOutcome, GenerationParams, TokenizeResult } from '../../shared/api';
import type { DecodeOutcome, GeneratedSequence, GenerationJob, GenerationStartInfo } from './generate/generate';
import { MAX_TOP_LOGPROBS } from './generate/logprobs';
import { randomSeed } from './generate/rng';
import { DecodeScheduler, type BatchLimits, type SchedulerStatus } from './generate/scheduler';
import { runSpeculative } from './generate/speculative';
import { fp32GraphPaths, ROWS_FILE } from './onnx';
import { bertTokenizerDir, importBertTokenizer, loadBertTokenizer, type BertWordPiece, type WordPieceResult } from './inspect/bert-tokenizer';
import { Inspector } from './inspect/inspector';
import type { openInspectSession } from './runtime/threaded-inspect-session';
import { ModelStore, type StoredModel } from './models/store';
import { defaultPrecision, type Precision, type PrecisionRequest } from './precision';
import type { DecoderPaths, DecoderSession, openDecoder, probeDevices } from './runtime';
import { loadTokenizer, type Gpt2Tokenizer } from './tokenizer';
import { EngineError, type DeviceName, type DeviceRequest } from './types';
import { weightBytes } from './models/footprint';
import { availableMemory, estimateMemory, type AvailableMemory, type MemoryWorkload } from './runtime/memory-estimate';
import { isOutOfMemory, shortReason } from './runtime/out-of-memory';
import { graphFolderFiles, warmFiles } from './runtime/warm-files';

export { EngineError } from './types';
export type { DeviceName, DeviceRequest, EngineErrorKind, FinishReason, Gpt2Config } from './types';
export type { ConvertOptions, ConvertProgress, ImportOptions, ImportProgress, ImportTransfer, StoredModel, StoredVariant } from './models/store';
export { ModelOrigin, ModelStore, formatParameters } from './models/store';
export type { CachedRepo, CacheImportOptions, HfCacheListing } from './models/hf-cache';
export { findCachedRepo, hfHubCacheDir, importFromHfCache, listHfCache } from './models/hf-cache';
export type { PullOptions, PullProgress, PullResult } from './models/pull';
export { pull, resolvePullTarget, tokenizerDir, TOKENIZER_META_FILE } from './models/pull';
export type { HubConnection, HubFailure } from './models/hub-http';
export { DEFAULT_HUB_ENDPOINT, HubError, hubConnectionFromEnv } from './models/hub-http';
export type { CatalogEntry, CatalogModel, CatalogTokenizer, PrecisionFootprint } from './models/catalog';
export { BERT_TOKENIZER, catalog, catalogEntry, catalogEntryForRepo } from './models/catalog';
export type { ModelDimensions } from './models/footprint';
export { bytesReadPerToken, checkpointBytes, matMulNBitsBytes, parameterCount, storedBytes, weightBytes } from './models/footprint';
export type { AvailableMemory, MemoryEstimate, MemoryVerdict, MemoryWorkload } from './runtime/memory-estimate';
export { availableMemory, checkMemory, estimateMemory } from './runtime/memory-estimate';
export { isOutOfMemory } from './runtime/out-of-memory';
export { formatBytes } from './models/disk';
export type { GeneratedSequence, GenerationStartInfo } from './generate/generate';
export type { TokenLogprob } from './generate/logprobs';
export { MAX_TOP_LOGPROBS } from './generate/logprobs';
export type { BatchLimits, SchedulerStatus } from './generate/scheduler';
export { DEFAULT_BATCH_LIMITS } from './generate/scheduler';
export type { SpeculativeStats } from './generate/speculative';
export { MAX_DRAFT_TOKENS } from './generate/speculative';
export { Inspector, NEXT_TOKEN_TOP, MAX_TOP, DEFAULT_MAX_INSPECT_BYTES, DEFAULT_INSPECT_IDLE_MS } from './inspect/inspector';
export type { InspectRequest, InspectResult, PositionPrediction, TopToken } from './inspect/inspector';
export type { AttentionLayerPayload, AttentionOverviewPayload, LensLayerPayload } from './inspect/inspection';
export { decodeHalfBits } from './inspect/inspection';
export type { TokenView } from './inspect/token-view';
export type { HalfMatrix, PositionalEncoding, PositionalEncodingsPayload, PositionalOptions } from './inspect/positional';
export { BERT_TOKENIZER_NAME } from './inspect/bert-tokenizer';
export type { WordPieceResult } from './inspect/bert-tokenizer';
export { topCandidates } from './generate/sampling';
export { resolveHome } from './paths';
export { isCudaProviderInstalled } from './runtime/cuda';
export { defaultPrecision, isPrecision, isVariantPrecision, PRECISIONS, VARIANT_PRECISIONS } from './precision';
export type { Precision, PrecisionRequest, VariantPrecision } from './precision';
export { RemoteEngines } from './remote/remote-engines';
export type { RemoteEngineSource, RemoteModelEntry } from './remote/remote-engines';
export { RemoteCompletionsClient } from './remote/client';
export type { RemoteCompletionResult, RemoteCompletionRequest, RemoteClientOptions, RemoteScoredToken, RemoteStartInfo } from './remote/client';
export { RemoteEngineError } from './remote/errors';
export type { RemoteFailure } from './remote/errors';

/** Draft tokens per round when a request names a draft model but not how many. */
export const DEFAULT_DRAFT_TOKENS: number | 'auto' = 'auto';

/** One generation request (params already validated by the shared GenerationParams schema). */
export interface EngineGenerateRequest {
  modelId: string;
  prompt: string;
  /** Kept at the start of the context whatever is cut from the left of `prompt`. */
  memory?: string;
  params: GenerationParams;
  /** Weight precision; default the engine's `precision` option. */
  precision?: PrecisionRequest;
  /**
   * 0 (default) to MAX_TOP_LOGPROBS (20): keep this many most likely alternatives, with their
   * log-probabilities, for every generated token (OpenAI's `logprobs`). Each sequence always keeps
   * its own tokens' log-probabilities.
   */
  topLogprobs?: number;
  /**
   * Speculative decoding: `draftModelId` in `draftPrecision` (default: the request's precision)
   * proposes `draftTokens` tokens at a time, and this model verifies them in one pass; 'auto' (the
   * default) picks each round's count from the request's measured step times and acceptance, and
   * takes plain steps while the draft does not pay (generate/draft-length.ts).
   * The draft is a stored model with the same vocabulary (gpt2 for gpt2-large), or this model in a
   * smaller precision (its int4 variant: a self-draft). Greedy output is that of plain greedy
   * decoding; sampled output follows the same distribution (not the same tokens for a seed). Such
   * a request runs on its own rows instead of sharing decode steps.
   */
  speculative?: { draftModelId: string; draftPrecision?: PrecisionRequest; draftTokens?: number | 'auto' };
  /** Aborting ends every running sequence within one decoder step ('cancelled', partial text kept). */
  signal?: AbortSignal;
  onStart?(info: GenerationStartInfo): void;
  onDelta?(sequence: number, text: string): void;
  /** Called while the decoder is being opened, when this request opens it (not when it is already loaded). */
  onLoadProgress?(progress: LoadProgress): void;
}

/** Where opening a decoder is: reading its files (bytes), creating the onnxruntime session, done. */
export interface LoadProgress {
  readonly phase: 'reading' | 'session' | 'ready';
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

/** Options of Engine.load. */
export interface LoadOptions {
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Aborting stops the load while the files are read ('cancelled'); a session being created finishes first. */
  readonly signal?: AbortSignal;
}

/** What Engine.load did. */
export interface LoadOutcome {
  readonly modelId: string;
  readonly device: DeviceName;
  readonly precision: Precision;
  /** Why the device or the precision differs from the request (a GPU that failed, memory that ran out). */
  readonly fallbackReason?: string;
  /** Resident memory the process grew by while the decoder opened (null when it was already loaded). */
  readonly residentBytes: number | null;
  readonly loadMs: number;
  /** True when the decoder was loaded already and nothing was read. */
  readonly alreadyLoaded: boolean;
  /** Idle models unloaded to make room for this one, each with its precision ("gpt2 (fp32)"). */
  readonly unloaded: readonly string[];
}

/** A decoder the engine holds, as status reports it. */
export interface LoadedDecoderInfo {
  readonly modelId: string;
  readonly device: DeviceName;
  readonly precision: Precision;
  /** Resident memory the process grew by while it opened; null when unknown. */
  readonly residentBytes: number | null;
}

/** What a request that may open a decoder brings: progress, cancellation, and notes of what was done on its behalf. */
interface AcquireHooks {
  readonly onProgress?: (progress: LoadProgress) => void;
  readonly signal?: AbortSignal;
  /** Filled with what was unloaded to make room. */
  readonly unloaded?: string[];
}

/**
 * What a generation returns: the API's GenerationOutcome (the service names it and saves it to
 * history), whose sequences always carry their token log-probabilities.
 */
export type EngineGenerateResult = Omit<GenerationOutcome, 'sequences'> & { sequences: GeneratedSequence[] };

/** Raw next-token scores of a prompt. */
export interface EngineLogits {
  tokenIds: number[];
  /** Vocabulary-sized logits at the last prompt position. */
  logitsLast: Float32Array;
  /** One vocabulary-sized row per prompt position (only when asked for). */
  logits?: Float32Array[];
  /** The precision whose graphs computed them. */
  precision: Precision;
}

/** Collaborators the engine uses; tests may replace them. */
export interface EngineOptions {
  home: string;
  /**
   * Weight precision of every request that does not name one (generate, logits, and whatever
   * else opens a decoder through the engine). Default 'auto': defaultPrecision() for the device
   * among the variants the model has.
   */
  precision?: PrecisionRequest;
  /** What may decode together on one loaded model (DEFAULT_BATCH_LIMITS where not given). */
  batchLimits?: Partial<BatchLimits>;
  openDecoder?: typeof openDecoder;
  loadTokenizer?: typeof loadTokenizer;
  probeDevices?: typeof probeDevices;
  openInspectSession?: typeof openInspectSession;
  /** Memory a new load can use (default availableMemory(): MemAvailable, a cgroup's room); tests simulate a full machine. */
  availableMemory?: () => AvailableMemory;
  /** Largest inspect pass held in memory (default DEFAULT_MAX_INSPECT_BYTES). */
  maxInspectBytes?: number;
  /** An unused inspect session is released after this long (default DEFAULT_INSPECT_IDLE_MS; 0: never). */
  inspectIdleReleaseMs?: number;
}

/** A decoder opened for one (model, requested device). */
interface LoadedDecoder {
  readonly modelId: string;
  readonly requested: DeviceRequest;
  readonly precision: Precision;
  /** Why this CPU decoder stands in for a GPU one that failed to open (set by #acquireFor). */
  readonly fallbackReason?: string;
  /** Why this precision stands in for the one asked for (memory ran out opening it). */
  precisionFallbackReason?: string;
  /** Resident memory the process grew by while the session opened. */
  residentBytes?: number;
  /** When a request last used it (performance.now()): the least recently used idle decoder is unloaded first for room. */
  lastUsedAt: number;
  /** Changes when the model is removed and imported again under the same id, or its variant is made again. */
  readonly importedAt: string;
  readonly ready: Promise<DecoderSession>;
  session?: DecoderSession;
  /** Shares decode steps among this decoder's generation requests. */
  scheduler?: DecodeScheduler;
  users: number;
  unloaded: boolean;
}

interface LoadedTokenizer {
  readonly importedAt: string;
  readonly ready: Promise<Gpt2Tokenizer>;
}

/**
 * Runs stored GPT-2 models; one decoder per (model, device, precision) and one tokenizer per
 * model stay loaded until unload(). Concurrent generate() calls on the same decoder share decode
 * steps (continuous batching) within the batch limits; each one's output is the same as alone.
 */
export class Engine {
  /** The model store under <home>/models. */
  readonly models: ModelStore;
  /** Inspect passes: attention, next-token log-probabilities, logit lens (graphs built and opened on first use). */
  readonly inspector: Inspector;
  readonly #openDecoder: typeof openDecoder;
  readonly #loadTokenizer: typeof loadTokenizer;
  readonly #probeDevices: typeof probeDevices;
  readonly #precision: PrecisionRequest;
  readonly #availableMemory: () => AvailableMemory;
  readonly #batchLimits: Partial<BatchLimits>;
  #decoders: LoadedDecoder[] = [];
  /**
   * (model, precision, device) whose load ran out of memory, with the reason: the next request for it
   * goes straight to the fallback instead of failing the same allocation again. Forgotten when a
   * decoder is unloaded (memory was freed) and by an explicit load().
   */
  readonly #outOfMemory = new Map<string, string>();
  /** What each model's last generation opened, so that an allocation failure in it knows what to step down from. */
  readonly #lastTried = new Map<string, { precision: Precision; device: DeviceName }>();
  readonly #tokenizers = new Map<string, LoadedTokenizer>();
  readonly #home: string;
  #bert: Promise<BertWordPiece> | undefined;
  #disposed = false;

  constructor(opts: EngineOptions) {
    this.models = new ModelStore(opts.home);
    this.#home = opts.home;
    // onnxruntime-node is loaded on first use: processes that import this entry for ModelStore or
    // resolveHome (the desktop main process, `inkwell --help`) never load the native runtime.
    this.#openDecoder = opts.openDecoder ?? (async (...args) => (await import('./runtime')).openDecoder(...args));
    this.#loadTokenizer = opts.loadTokenizer ?? loadTokenizer;
    this.#probeDevices = opts.probeDevices ?? (async () => (await import('./runtime')).probeDevices());
    this.inspector = new Inspector({
      model: (id) => {
        this.#checkOpen();
        return this.models.get(id);
      },
      tokenizer: (model) => this.#tokenizer(model),
      ...(opts.openInspectSession ? { openInspectSession: opts.openInspectSession } : {}),
      ...(opts.maxInspectBytes !== undefined ? { maxBytes: opts.maxInspectBytes } : {}),
      ...(opts.inspectIdleReleaseMs !== undefined ? { idleReleaseMs: opts.inspectIdleReleaseMs } : {}),
    });
    this.#precision = opts.precision ?? 'auto';
    this.#availableMemory = opts.availableMemory ?? (() => availableMemory());
    this.#batchLimits = opts.batchLimits ?? {};
  }

  /** Generates `params.numReturnSequences` continuations of memory + prompt, streaming text through onDelta. */
  async generate(req: EngineGenerateRequest): Promise<EngineGenerateResult> {
    const model = this.models.get(req.modelId);
    let request: PrecisionRequest = req.precision ?? (req.params.precision === 'auto' ? this.#precision : req.params.precision);
    let device: DeviceRequest = req.params.device;
    let note: string | undefined;
    for (;;) {
      let streamed = false;
      try {
        return await this.#generateOnce(model, req, device, request, note, () => (streamed = true));
      } catch (error) {
        // Out of memory mid-generation: with nothing shown yet, the same request runs again on the
        // next smaller precision (or the CPU); once text was streamed, a rerun would rewrite it.
        if (!allocationFailed(error) || streamed) throw this.#memoryError(error, model.id);
        const failed = this.#lastTried.get(model.id) ?? { precision: await this.#resolvePrecision(model, device, request), device: device === 'auto' ? 'cpu' : device };
        await this.unload(model.id);
        const next = this.#smallerOption(model, failed.precision, failed.device);
        if (!next) throw this.#memoryError(error, model.id);
        note = `ran out of memory generating with ${failed.precision} weights on the ${failed.device} (${shortReason(error)}); ${next.precision} on the ${next.device} instead`;
        request = next.precision;
        device = next.device;
      }
    }
  }

  async #generateOnce(
    model: StoredModel, req: EngineGenerateRequest, device: DeviceRequest, precision: PrecisionRequest, note: string | undefined, onOutput: () => void,
  ): Promise<EngineGenerateResult> {
    const loadStart = performance.now();
    const topLogprobs = req.topLogprobs ?? 0;
    if (!Number.isInteger(topLogprobs) || topLogprobs < 0 || topLogprobs > MAX_TOP_LOGPROBS) {
      throw new EngineError('bad_input', `top logprobs must be an integer from 0 to ${MAX_TOP_LOGPROBS}, got ${topLogprobs}`);
    }
    const draftModel = req.speculative ? this.models.get(req.speculative.draftModelId) : null;
    // The generation's signal is not the load's: a cancelled generation still returns its (empty) sequences.
    const { tokenizer, decoder } = await this.#load(model, device, precision, req.onLoadProgress ? { onProgress: req.onLoadProgress } : {});
    let draft: LoadedDecoder | null = null;
    try {
      if (draftModel) {
        const loaded = await this.#load(draftModel, device, req.speculative?.draftPrecision ?? precision);
        draft = loaded.decoder;
        checkSameVocabulary(model, tokenizer, draftModel, loaded.tokenizer);
      }
    } catch (error) {
      if (draft) await this.#releaseUse(draft);
      await this.#releaseUse(decoder);
      throw error;
    }
    const loadMs = performance.now() - loadStart;
    this.#lastTried.set(model.id, { precision: decoder.precision, device: decoder.session?.device.used ?? 'cpu' });
    try {
      const session = decoder.session as DecoderSession;
      const seed = req.params.seed ?? randomSeed();
      const job: GenerationJob = {
        tokenizer,
        prompt: req.prompt,
        memory: req.memory ?? '',
        params: req.params,
        seed,
        topLogprobs,
        signal: req.signal,
        onStart: (info) => req.onStart?.({ ...info, precision: decoder.precision }),
        onDelta: (sequence, text) => {
          onOutput();
          req.onDelta?.(sequence, text);
        },
      };
      let speculative: EngineGenerateResult['speculative'];
      let outcome: DecodeOutcome;
      if (draft && draftModel) {
        const draftTokens = req.speculative?.draftTokens ?? DEFAULT_DRAFT_TOKENS;
        const result = await runSpeculative(session, job, { draft: draft.session as DecoderSession, draftTokens });
        speculative = { ...result.speculative, draftModelId: draftModel.id, draftPrecision: draft.precision };
        outcome = result;
      } else {
        outcome = await this.#scheduler(decoder).submit(job);
      }
      const reasons = [note, session.device.fallbackReason ?? decoder.fallbackReason, decoder.precisionFallbackReason].filter((r): r is string => r !== undefined);
      const fallbackReason = reasons.length > 0 ? reasons.join('; ') : undefined;
      return {
        modelId: model.id,
        precision: decoder.precision,
        device: session.device.used,
        ...(fallbackReason !== undefined ? { deviceFallbackReason: fallbackReason } : {}),
        seed,
        promptTokens: outcome.promptTokens,
        truncatedPromptTokens: outcome.truncatedPromptTokens,
        sequences: outcome.sequences,
        timings: {
          loadMs,
          prefillMs: outcome.prefillMs,
          decodeMs: outcome.decodeMs,
          tokensPerSecond: outcome.tokensPerSecond,
        },
        ...(speculative ? { speculative } : {}),
      };
    } finally {
      if (draft) await this.#releaseUse(draft);
      await this.#releaseUse(decoder);
    }
  }

  /** Token ids of `text` and the display string of each token. */
  async tokenize(modelId: string, text: string): Promise<TokenizeResult> {
    const tokenizer = await this.#tokenizer(this.models.get(modelId));
    const ids = tokenizer.encode(text);
    return { ids, tokens: tokenizer.tokenStrings(ids) };
  }

  /**
   * BERT WordPiece tokens of `text` with [CLS] and [SEP] (bert-base-uncased's tokenizer from
   * <home>/tokenizers/bert-base-uncased); EngineError not_found saying how to get it when missing.
   */
  async wordPiece(text: string): Promise<WordPieceResult> {
    this.#checkOpen();
    if (!this.#bert) {
      const loading = loadBertTokenizer(bertTokenizerDir(this.#home));
      this.#bert = loading;
      // Not kept after a failure: the files may be pulled or imported while the engine runs.
      loading.catch(() => {
        if (this.#bert === loading) this.#bert = undefined;
      });
    }
    return (await this.#bert).tokenize(text);
  }

  /** Installs the BERT tokenizer files found in `dir` (tokenizer.json or vocab.txt, checked first) for wordPiece(). */
  async importBertTokenizer(dir: string): Promise<void> {
    this.#checkOpen();
    const imported = await importBertTokenizer(dir, bertTokenizerDir(this.#home));
    this.#bert = Promise.resolve(imported);
  }

  /** Display text of each token id (e.g. 50256 → "<|endoftext|>"). */
  async tokenStrings(modelId: string, ids: readonly number[]): Promise<string[]> {
    const tokenizer = await this.#tokenizer(this.models.get(modelId));
    return tokenizer.tokenStrings(ids);
  }

  /**
   * Logits of the next token after `prompt` (and, with `all`, after every prefix of it), from the same
   * graphs generation uses. The prompt must fit the context window; nothing is cut.
   */
  async logits(modelId: string, prompt: string, all: boolean, device: DeviceRequest = 'auto', precision: PrecisionRequest = this.#precision): Promise<EngineLogits> {
    const model = this.models.get(modelId);
    const tokenizer = await this.#tokenizer(model);
    const tokenIds = tokenizer.encode(prompt);
    if (tokenIds.length === 0) throw new EngineError('bad_input', 'prompt is empty: logits need at least one token');
    const window = model.config.nPositions;
    if (tokenIds.length > window) {
      throw new EngineError('bad_input', `prompt is ${tokenIds.length} tokens; the model's context window is ${window}`);
    }
    // Unlike generate, opened only after the prompt is checked: a refused prompt loads no decoder.
    const { decoder } = await this.#acquireFor(model, device, precision);
    try {
      const session = decoder.session as DecoderSession;
      const vocab = model.config.vocabSize;
      if (all) {
        const flat = await session.logitsAll(tokenIds);
        const rows = tokenIds.map((_, i) => flat.slice(i * vocab, (i + 1) * vocab));
        return { tokenIds, logitsLast: rows[rows.length - 1] as Float32Array, logits: rows, precision: decoder.precision };
      }
      const batch = session.createBatch();
      try {
        const { out } = await batch.prefill(tokenIds, 1);
        return { tokenIds, logitsLast: out.logits.slice(0, vocab), precision: decoder.precision };
      } finally {
        batch.dispose();
      }
    } finally {
      await this.#releaseUse(decoder);
    }
  }

  /**
   * Opens the decoder of `modelId` ahead of a generation: its files are read first with progress
   * (warm-files.ts), idle models are unloaded when the estimate does not fit the free memory, and
   * running out of memory falls back to a smaller precision or the CPU (said in fallbackReason).
   */
  async load(modelId: string, options: LoadOptions & { precision?: PrecisionRequest; device?: DeviceRequest } = {}): Promise<LoadOutcome> {
    const model = this.models.get(modelId);
    const device = options.device ?? 'auto';
    const request = options.precision ?? this.#precision;
    const started = performance.now();
    // Asked for explicitly: an earlier allocation failure is tried again (memory may have been freed).
    for (const key of [...this.#outOfMemory.keys()]) if (key.startsWith(`${model.id}\0`)) this.#outOfMemory.delete(key);
    const unloaded: string[] = [];
    const { decoder, opened } = await this.#acquireFor(model, device, request, {
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      unloaded,
    });
    try {
      const session = decoder.session as DecoderSession;
      const reasons = [session.device.fallbackReason ?? decoder.fallbackReason, decoder.precisionFallbackReason].filter((r): r is string => r !== undefined);
      return {
        modelId: model.id,
        device: session.device.used,
        precision: decoder.precision,
        ...(reasons.length > 0 ? { fallbackReason: reasons.join('; ') } : {}),
        residentBytes: opened ? (decoder.residentBytes ?? null) : null,
        loadMs: performance.now() - started,
        alreadyLoaded: !opened,
        unloaded,
      };
    } finally {
      await this.#releaseUse(decoder);
    }
  }

  /**
   * Log-probability (natural log, temperature 1, no filtering) of every token of each continuation
   * after `prompt`, under this model: what perplexity is computed from. The context is cut from
   * the left so that context + continuation fit the window (at least one context token is kept);
   * a continuation longer than that is scored as far as it fits. Token ids outside the model's
   * vocabulary are refused.
   */
  async scoreContinuations(
    modelId: string,
    prompt: string,
    continuations: readonly (readonly number[])[],
    device: DeviceRequest = 'auto',
    precision: PrecisionRequest = this.#precision,
  ): Promise<{ logprobs: number[][]; texts: string[][]; device: DeviceName; precision: Precision }> {
    const model = this.models.get(modelId);
    const tokenizer = await this.#tokenizer(model);
    const context = tokenizer.encode(prompt);
    if (context.length === 0) throw new EngineError('bad_input', 'prompt is empty: a continuation is scored after at least one token');
    const { vocabSize, nPositions } = model.config;
    for (const ids of continuations) {
      const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
      if (bad !== undefined) throw new EngineError('bad_input', `token id ${bad} is outside ${modelId}'s vocabulary of ${vocabSize}`);
    }
    const { decoder } = await this.#acquireFor(model, device, precision);
    try {
      const session = decoder.session as DecoderSession;
      const logprobs: number[][] = [];
      const texts: string[][] = [];
      for (const continuation of continuations) {
        const scored = continuation.slice(0, nPositions - 1);
        texts.push(tokenizer.tokenStrings(scored));
        if (scored.length === 0) {
          logprobs.push([]);
          continue;
        }
        const kept = context.slice(Math.max(0, context.length - (nPositions - scored.length)));
        const ids = [...kept, ...scored];
        const flat = await session.logitsAll(ids);
        logprobs.push(scored.map((token, i) => logSoftmaxAt(flat, (kept.length - 1 + i) * vocabSize, vocabSize, token)));
      }
      return { logprobs, texts, device: session.device.used, precision: decoder.precision };
    } finally {
      await this.#releaseUse(decoder);
    }
  }

  /** The decoders held, with the resident memory each took when it opened. */
  loadedDetails(): LoadedDecoderInfo[] {
    return this.#decoders
      .filter((d) => d.session && !d.unloaded)
      .map((d) => ({ modelId: d.modelId, device: (d.session as DecoderSession).device.used, precision: d.precision, residentBytes: d.residentBytes ?? null }));
  }

  /** Decoders currently loaded, with the device and precision each runs in. */
  loaded(): { modelId: string; device: DeviceName; precision: Precision }[] {
    const seen = new Set<string>();
    const out: { modelId: string; device: DeviceName; precision: Precision }[] = [];
    for (const d of this.#decoders) {
      if (!d.session || d.unloaded) continue;
      const key = `${d.modelId}\0${d.session.device.used}\0${d.precision}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ modelId: d.modelId, device: d.session.device.used, precision: d.precision });
    }
    return out;
  }

  /**
   * Gives memory back after work: collects the decoders' worker heaps and this thread's, which hold
   * every step's KV cache as ArrayBuffers until a collection (needs --expose-gc; else a no-op).
   * Loaded models stay loaded.
   */
  releaseIdleMemory(): void {
    for (const decoder of this.#decoders) decoder.session?.collectGarbage?.();
    (globalThis as { gc?: () => void }).gc?.();
  }

  /**
   * The precision a request for `modelId` on `device` runs in: `request` itself when the model
   * has it (EngineError not_found with the convert command when not), else for 'auto' the
   * default for the device the request would run on (defaultPrecision).
   */
  async resolvePrecision(modelId: string, device: DeviceRequest, request: PrecisionRequest = this.#precision): Promise<Precision> {
    return this.#resolvePrecision(this.models.get(modelId), device, request);
  }

  /** What each loaded decoder's scheduler is running and holding (for admission and diagnostics). */
  batchStatus(): { modelId: string; device: DeviceName; precision: Precision; status: SchedulerStatus }[] {
    return this.#decoders.flatMap((d) => (d.session && d.scheduler && !d.unloaded
      ? [{ modelId: d.modelId, device: d.session.device.used, precision: d.precision, status: d.scheduler.status }]
      : []));
  }

  /** Which devices work on this machine (a real probe session per device, cached per process). */
  probeDevices(): Promise<DeviceStatus[]> {
    return this.#probeDevices();
  }

  /** Releases every decoder and the tokenizer of `modelId` (decoders in use are released when their request ends). */
  async unload(modelId: string): Promise<void> {
    this.#tokenizers.delete(modelId);
    // Memory was freed: what ran out of it before may fit now.
    this.#outOfMemory.clear();
    const leaving = this.#decoders.filter((d) => d.modelId === modelId);
    this.#decoders = this.#decoders.filter((d) => d.modelId !== modelId);
    await Promise.all([...leaving.map((d) => this.#retire(d)), this.inspector.unload(modelId)]);
  }

  /** Releases everything; the engine refuses work afterwards. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    const leaving = this.#decoders;
    this.#decoders = [];
    this.#tokenizers.clear();
    await Promise.all([...leaving.map((d) => this.#retire(d)), this.inspector.dispose()]);
  }

  async #tokenizer(model: StoredModel): Promise<Gpt2Tokenizer> {
    this.#checkOpen();
    let entry = this.#tokenizers.get(model.id);
    if (!entry || entry.importedAt !== model.importedAt) {
      const ready = this.#loadTokenizer(model.dir);
      entry = { importedAt: model.importedAt, ready };
      this.#tokenizers.set(model.id, entry);
      const current = entry;
      ready.catch(() => {
        if (this.#tokenizers.get(model.id) === current) this.#tokenizers.delete(model.id);
      });
    }
    return entry.ready;
  }

  /**
   * The tokenizer and the decoder, loaded at the same time; the caller must #releaseUse the decoder.
   * Errors come in the order a one-after-the-other load would give (tokenizer first), and a
   * decoder this request opened is unloaded again when the tokenizer fails.
   */
  async #load(model: StoredModel, device: DeviceRequest, precision: PrecisionRequest, hooks: AcquireHooks = {}): Promise<{ tokenizer: Gpt2Tokenizer; decoder: LoadedDecoder }> {
    const [tokenizer, acquired] = await Promise.allSettled([this.#tokenizer(model), this.#acquireFor(model, device, precision, hooks)]);
    if (tokenizer.status === 'rejected') {
      if (acquired.status === 'fulfilled') await this.#abandon(acquired.value.decoder, acquired.value.opened);
      throw tokenizer.reason;
    }
    if (acquired.status === 'rejected') throw acquired.reason;
    return { tokenizer: tokenizer.value, decoder: acquired.value.decoder };
  }

  async #resolvePrecision(model: StoredModel, device: DeviceRequest, request: PrecisionRequest): Promise<Precision> {
    const available: Precision[] = ['fp32', ...model.variants.map((v) => v.precision)];
    if (request !== 'auto') {
      if (!available.includes(request)) {
        throw new EngineError('not_found', `model ${JSON.stringify(model.id)} has no ${request} variant (make it with \`inkwell models convert ${model.id} --precision ${request}\`)`);
      }
      return request;
    }
    let target: DeviceName = device === 'auto' ? 'cpu' : device;
    if (device === 'auto') {
      const [status, { AUTO_ORDER }] = await Promise.all([this.#probeDevices(), import('./runtime')]);
      target = AUTO_ORDER.find((d) => status.some((s) => s.name === d && s.available)) ?? 'cpu';
    }
    return defaultPrecision(target, available);
  }

  /**
   * The decoder for (model, device, precision request). When 'auto' chose a GPU's precision and
   * the GPU failed to open the graph (the session fell back to the CPU), the CPU's default
   * precision is opened instead, so a fallback does not leave fp16 running on the CPU.
   */
  async #acquireFor(model: StoredModel, device: DeviceRequest, request: PrecisionRequest, hooks: AcquireHooks = {}): Promise<{ decoder: LoadedDecoder; opened: boolean }> {
    const precision = await this.#resolvePrecision(model, device, request);
    const acquired = await this.#acquireWithinMemory(model, device, precision, hooks);
    const used = acquired.decoder.session?.device.used;
    if (request !== 'auto' || used !== 'cpu' || device === 'cpu') return acquired;
    const cpuPrecision = defaultPrecision('cpu', ['fp32', ...model.variants.map((v) => v.precision)]);
    if (cpuPrecision === precision) return acquired;
    const reason = acquired.decoder.session?.device.fallbackReason;
    await this.#abandon(acquired.decoder, acquired.opened);
    return this.#acquire(model, 'cpu', cpuPrecision, reason === undefined ? undefined : `${reason}; ${cpuPrecision} weights instead of ${precision} on the cpu`, hooks);
  }

  /**
   * #acquire, falling back when the allocation fails: to the next smaller precision the model has,
   * else from a GPU to the CPU. A (model, precision, device) that ran out of memory once goes
   * straight to its fallback until memory is freed (an unload) or a load() asks for it again.
   */
  async #acquireWithinMemory(model: StoredModel, device: DeviceRequest, precision: Precision, hooks: AcquireHooks): Promise<{ decoder: LoadedDecoder; opened: boolean }> {
    let target: { precision: Precision; device: DeviceRequest } = { precision, device };
    const notes: string[] = [];
    for (;;) {
      const key = `${model.id}\0${target.precision}\0${target.device}`;
      const known = this.#outOfMemory.get(key);
      let failure: string | undefined = known;
      if (known === undefined) {
        try {
          const acquired = await this.#acquire(model, target.device, target.precision, undefined, hooks);
          if (notes.length > 0) acquired.decoder.precisionFallbackReason = notes.join('; ');
          return acquired;
        } catch (error) {
          if (!allocationFailed(error)) throw error;
          failure = shortReason(error);
          this.#outOfMemory.set(key, failure);
        }
      }
      const concrete: DeviceName = target.device === 'auto' ? 'cpu' : target.device;
      const next = this.#smallerOption(model, target.precision, concrete);
      if (!next) {
        throw new EngineError('refused', `${model.id} does not fit in memory: loading ${target.precision} weights on the ${concrete} ran out of memory (${failure ?? 'allocation failed'}), `
          + 'and there is no smaller variant to fall back to: make an int8 or int4 variant, unload other models, or close other programs');
      }
      notes.push(`ran out of memory loading ${target.precision} weights on the ${concrete} (${failure ?? 'allocation failed'}); ${next.precision} on the ${next.device} instead`);
      target = next;
    }
  }

  /** The next thing to try after `precision` on `device` ran out of memory: a smaller variant the model has, else the CPU. */
  #smallerOption(model: StoredModel, precision: Precision, device: DeviceName): { precision: Precision; device: DeviceName } | undefined {
    const size = (p: Precision): number => weightBytes(model.config, p);
    const smaller = (['fp32', ...model.variants.map((v) => v.precision)] as Precision[])
      .filter((p) => size(p) < size(precision) && !(device === 'cpu' && p === 'fp16'))
      .sort((a, b) => size(b) - size(a))[0];
    if (smaller !== undefined) return { precision: smaller, device };
    if (device !== 'cpu') return { precision, device: 'cpu' };
    return undefined;
  }

  /** An allocation failure the fallbacks could not absorb, as a refusal that says what to do; other errors unchanged. */
  #memoryError(error: unknown, modelId: string): unknown {
    if (!allocationFailed(error)) return error;
    return new EngineError('refused', `${modelId} ran out of memory while generating (${shortReason(error)}): use a smaller precision, fewer candidates or a shorter text`, { cause: error });
  }

  /**
   * Makes room for a load whose estimate does not fit the free memory: idle decoders of other
   * models are unloaded, least recently used first, until it fits or none is idle.
   */
  async #makeRoom(model: StoredModel, precision: Precision, unloaded?: string[]): Promise<void> {
    const needed = estimateMemory(model.config, precision, { batch: 1, sequenceLength: model.config.nPositions } satisfies MemoryWorkload).totalBytes;
    let available = this.#availableMemory().availableBytes;
    const idle = this.#decoders.filter((d) => d.modelId !== model.id && d.users === 0 && d.session && !d.unloaded).sort((a, b) => a.lastUsedAt - b.lastUsedAt);
    for (const decoder of idle) {
      if (needed <= available) return;
      this.#decoders = this.#decoders.filter((d) => d !== decoder);
      await this.#retire(decoder);
      unloaded?.push(`${decoder.modelId} (${decoder.precision})`);
      available = this.#availableMemory().availableBytes;
    }
  }

  /**
   * Opens a decoder: room made, its files read with progress (so a cold GPT-2 Large shows bytes,
   * not "Starting…" for a minute), then the session created; the resident growth is recorded.
   */
  async #open(model: StoredModel, paths: DecoderPaths, device: DeviceRequest, precision: Precision, hooks: AcquireHooks, into: { residentBytes?: number }): Promise<DecoderSession> {
    await this.#makeRoom(model, precision, hooks.unloaded);
    const graphs = await withRowsGraph(model, precision, paths);
    const files = graphFolderFiles(graphs.decoderPath);
    if (precision === 'fp32') {
      // The fp32 graphs keep their weights in the checkpoint's safetensors (external data by offset).
      for (const f of graphFolderFiles(join(model.dir, 'config.json'))) if (f.path.endsWith('.safetensors')) files.push(f);
    }
    // Only a load someone watches reads ahead: without a progress bar the extra pass buys nothing.
    const onProgress = hooks.onProgress;
    if (onProgress) await warmFiles(files, (p) => onProgress({ phase: 'reading', ...p }), hooks.signal);
    const total = files.reduce((sum, f) => sum + f.bytes, 0);
    hooks.onProgress?.({ phase: 'session', bytesDone: total, bytesTotal: total });
    const before = process.memoryUsage.rss();
    const session = await this.#openDecoder(graphs, model.config, device);
    into.residentBytes = Math.max(0, process.memoryUsage.rss() - before);
    hooks.onProgress?.({ phase: 'ready', bytesDone: total, bytesTotal: total });
    return session;
  }

  /** Graph paths of `precision` (fp32: the imported graphs). */
  #paths(model: StoredModel, precision: Precision): DecoderPaths & { stamp: string } {
    if (precision === 'fp32') return { ...fp32Paths(model), stamp: model.importedAt };
    const variant = model.variants.find((v) => v.precision === precision);
    if (!variant) throw new EngineError('not_found', `model ${JSON.stringify(model.id)} has no ${precision} variant`);
    const rowsPath = join(dirname(variant.decoderPath), ROWS_FILE);
    return { decoderPath: variant.decoderPath, fullLogitsPath: variant.fullLogitsPath, rowsPath, stamp: `${model.importedAt}/${variant.createdAt}` };
  }

  /**
   * The decoder for (model, device, precision), opened on first use (`opened`: by this call); the
   * caller must #releaseUse it.
   */
  async #acquire(model: StoredModel, device: DeviceRequest, precision: Precision, fallbackReason?: string, hooks: AcquireHooks = {}): Promise<{ decoder: LoadedDecoder; opened: boolean }> {
    this.#checkOpen();
    const { stamp, ...paths } = this.#paths(model, precision);
    const stale = this.#decoders.filter((d) => d.modelId === model.id && d.precision === precision && d.importedAt !== stamp);
    if (stale.length > 0) {
      this.#decoders = this.#decoders.filter((d) => !stale.includes(d));
      await Promise.all(stale.map((d) => this.#retire(d)));
    }
    let entry = this.#find(model.id, device, precision);
    const opened = !entry;
    if (!entry) {
      const measured: { residentBytes?: number } = {};
      const ready = this.#open(model, paths, device, precision, hooks, measured);
      const created: LoadedDecoder = {
        modelId: model.id,
        requested: device,
        precision,
        ...(fallbackReason !== undefined ? { fallbackReason } : {}),
        importedAt: stamp,
        lastUsedAt: performance.now(),
        ready,
        users: 0,
        unloaded: false,
      };
      void ready.then(() => (created.residentBytes = measured.residentBytes), () => {});
      this.#decoders.push(created);
      entry = created;
    }
    entry.users++;
    entry.lastUsedAt = performance.now();
    try {
      entry.session = await entry.ready;
    } catch (error) {
      entry.users--;
      this.#decoders = this.#decoders.filter((d) => d !== entry);
      throw error;
    }
    return { decoder: entry, opened };
  }

  /** An open decoder for the request: same request, or a concrete device another request already resolved to. */
  #find(modelId: string, device: DeviceRequest, precision: Precision): LoadedDecoder | undefined {
    const mine = this.#decoders.filter((d) => d.modelId === modelId && d.precision === precision);
    const same = mine.find((d) => d.requested === device);
    if (same || device === 'auto') return same;
    return mine.find((d) => d.session?.device.used === device && d.session.device.fallbackReason === undefined);
  }

  /** The decoder's scheduler, created on first use. */
  #scheduler(entry: LoadedDecoder): DecodeScheduler {
    entry.scheduler ??= new DecodeScheduler(entry.session as DecoderSession, this.#batchLimits);
    return entry.scheduler;
  }

  async #releaseUse(entry: LoadedDecoder): Promise<void> {
    entry.users--;
    if (entry.unloaded && entry.users === 0) {
      entry.scheduler?.close();
      await entry.session?.release();
    }
  }

  /** Gives up a decoder a failed request acquired; one it opened is unloaded (released once no other request uses it). */
  async #abandon(entry: LoadedDecoder, opened: boolean): Promise<void> {
    if (opened && !entry.unloaded) {
      this.#decoders = this.#decoders.filter((d) => d !== entry);
      entry.unloaded = true;
    }
    await this.#releaseUse(entry);
  }

  /** Marks a decoder unloaded and releases it now, or when its last request ends. */
  async #retire(entry: LoadedDecoder): Promise<void> {
    entry.unloaded = true;
    if (entry.users > 0) return;
    const session = await entry.ready.catch(() => undefined);
    // A request may have started while the session was still opening.
    if (entry.users === 0) {
      entry.scheduler?.close();
      await session?.release();
    }
  }

  #checkOpen(): void {
    if (this.#disposed) throw new EngineError('internal', 'the engine has been disposed');
  }
}

/** An allocation failure from the runtime; the engine's own refusals (which may say "out of memory") are not. */
function allocationFailed(error: unknown): boolean {
  return !(error instanceof EngineError && error.kind !== 'internal') && isOutOfMemory(error);
}

/** log softmax(row)[token] of the vocabulary row starting at `offset`, summed in float64. */
function logSoftmaxAt(flat: Float32Array, offset: number, vocab: number, token: number): number {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, flat[offset + i] as number);
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp((flat[offset + i] as number) - max);
  return (flat[offset + token] as number) - max - Math.log(sum);
}

/** The fp32 graphs of a stored model (model_rows.onnx beside model.onnx). */
function fp32Paths(model: StoredModel): DecoderPaths {
  return { decoderPath: model.decoderPath, fullLogitsPath: model.fullLogitsPath, rowsPath: join(dirname(model.decoderPath), ROWS_FILE) };
}

/**
 * `paths` once its rows graph is current. An fp32 model imported before that graph existed, or
 * before its attention read the cache in place, gets it now, built beside its other graphs from
 * the weights already there. A precision variant made before the graph existed is refused with
 * the command that makes it again; one made before in-place attention keeps its graph (it runs,
 * holding more memory until the model unloads; converting again gives the current one).
 */
async function withRowsGraph(model: StoredModel, precision: Precision, paths: DecoderPaths): Promise<DecoderPaths> {
  if (precision === 'fp32') return fp32GraphPaths(model.dir, paths);
  if (existsSync(paths.rowsPath)) return paths;
  throw new EngineError('not_found', `the ${precision} variant of ${JSON.stringify(model.id)} was made before this version's decoder graph; make it again with \`inkwell models convert ${model.id} --precision ${precision}\``);
}

/** The fp32 graphs of a stored model, its rows graph built first if the model predates it (benches, tests). */
export async function decoderPaths(model: StoredModel): Promise<DecoderPaths> {
  return withRowsGraph(model, 'fp32', fp32Paths(model));
}

/** Refuses a draft whose tokens are not the target's (same ids for the same bytes). */
function checkSameVocabulary(model: StoredModel, tokenizer: Gpt2Tokenizer, draftModel: StoredModel, draftTokenizer: Gpt2Tokenizer): void {
  if (draftTokenizer === tokenizer) return;
  const differ = (why: string): EngineError =>
    new EngineError('bad_input', `${draftModel.id} cannot draft for ${model.id}: ${why}; a draft model must use the same vocabulary`);
  if (draftTokenizer.vocabSize !== tokenizer.vocabSize) throw differ(`its vocabulary has ${draftTokenizer.vocabSize} tokens, not ${tokenizer.vocabSize}`);
  if (draftTokenizer.eosTokenId !== tokenizer.eosTokenId) throw differ(`its end-of-text token is ${draftTokenizer.eosTokenId}, not ${tokenizer.eosTokenId}`);
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const a = tokenizer.tokenBytes(id);
    const b = draftTokenizer.tokenBytes(id);
    if (a.length !== b.length || a.some((byte, i) => byte !== b[i])) throw differ(`token ${id} differs`);
  }
}
