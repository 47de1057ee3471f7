/**
 * The engine's public surface: models on disk, loaded decoders, generation,
 * tokenization and raw logits. Plain Node (CLI, serve, the app's inference
 * process); never imports electron.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DeviceStatus, GenerationParams, GenerationResult } from '../../shared/api';
import type { GeneratedSequence, GenerationStartInfo } from './generate/generate';
import { MAX_TOP_LOGPROBS } from './generate/logprobs';
import { randomSeed } from './generate/rng';
import { DecodeScheduler, type BatchLimits, type SchedulerStatus } from './generate/scheduler';
import { runSpeculative, type SpeculativeStats } from './generate/speculative';
import { ModelStore, type StoredModel } from './models/store';
import { ensureRowsGraph, ROWS_FILE } from './onnx';
import { openDecoder, probeDevices, type DecoderPaths, type DecoderSession } from './runtime';
import { loadTokenizer, type Gpt2Tokenizer } from './tokenizer';
import { EngineError, type DeviceName, type DeviceRequest } from './types';

export { EngineError } from './types';
export type { DeviceName, DeviceRequest, EngineErrorKind, FinishReason, Gpt2Config } from './types';
export type { StoredModel } from './models/store';
export { ModelStore } from './models/store';
export type { GeneratedSequence, GenerationStartInfo } from './generate/generate';
export type { TokenLogprob } from './generate/logprobs';
export { MAX_TOP_LOGPROBS } from './generate/logprobs';
export type { BatchLimits, SchedulerStatus } from './generate/scheduler';
export { DEFAULT_BATCH_LIMITS } from './generate/scheduler';
export type { SpeculativeStats } from './generate/speculative';
export { MAX_DRAFT_TOKENS } from './generate/speculative';

/** Draft tokens per round when a request names a draft model but not how many. */
export const DEFAULT_DRAFT_TOKENS = 4;

/** One generation request (params already validated by the shared GenerationParams schema). */
export interface EngineGenerateRequest {
  modelId: string;
  prompt: string;
  /** Kept at the start of the context whatever is cut from the left of `prompt`. */
  memory?: string;
  params: GenerationParams;
  /**
   * 0 (default) to MAX_TOP_LOGPROBS (20): keep this many most likely alternatives, with their
   * log-probabilities, for every generated token (OpenAI's `logprobs`). Each sequence always keeps
   * its own tokens' log-probabilities.
   */
  topLogprobs?: number;
  /**
   * Speculative decoding: `draftModelId` (a stored model with the same vocabulary, e.g. gpt2 for
   * gpt2-large, or a smaller variant of the same model) proposes `draftTokens` (default 4) tokens
   * at a time, and this model verifies them in one pass. Greedy output is that of plain greedy
   * decoding; sampled output follows the same distribution (not the same tokens for a seed). Such
   * a request runs on its own rows instead of sharing decode steps.
   */
  speculative?: { draftModelId: string; draftTokens?: number };
  /** Aborting ends every running sequence within one decoder step ('cancelled', partial text kept). */
  signal?: AbortSignal;
  onStart?(info: GenerationStartInfo): void;
  onDelta?(sequence: number, text: string): void;
}

/**
 * What a generation returns: the API's GenerationResult before the service names it and saves it
 * to history, with each sequence's token log-probabilities (GeneratedSequence).
 */
export type EngineGenerateResult = Omit<GenerationResult, 'generationId' | 'historyId' | 'sequences'> & {
  sequences: GeneratedSequence[];
  /** With speculative decoding: the draft and how many of its tokens were accepted. */
  speculative?: SpeculativeStats & { draftModelId: string };
};

/** Raw next-token scores of a prompt. */
export interface EngineLogits {
  tokenIds: number[];
  /** Vocabulary-sized logits at the last prompt position. */
  logitsLast: Float32Array;
  /** One vocabulary-sized row per prompt position (only when asked for). */
  logits?: Float32Array[];
}

/** Collaborators the engine uses; tests may replace them. */
export interface EngineOptions {
  home: string;
  /** What may decode together on one loaded model (DEFAULT_BATCH_LIMITS where not given). */
  batchLimits?: Partial<BatchLimits>;
  openDecoder?: typeof openDecoder;
  loadTokenizer?: typeof loadTokenizer;
  probeDevices?: typeof probeDevices;
}

/** A decoder opened for one (model, requested device). */
interface LoadedDecoder {
  readonly modelId: string;
  readonly requested: DeviceRequest;
  /** Changes when the model is removed and imported again under the same id. */
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
 * Runs stored GPT-2 models; one decoder per (model, device) and one tokenizer per model stay
 * loaded until unload(). Concurrent generate() calls on the same model and device share decode
 * steps (continuous batching) within the batch limits; each one's output is the same as alone.
 */
export class Engine {
  /** The model store under <home>/models. */
  readonly models: ModelStore;
  readonly #batchLimits: Partial<BatchLimits>;
  readonly #openDecoder: typeof openDecoder;
  readonly #loadTokenizer: typeof loadTokenizer;
  readonly #probeDevices: typeof probeDevices;
  #decoders: LoadedDecoder[] = [];
  readonly #tokenizers = new Map<string, LoadedTokenizer>();
  #disposed = false;

  constructor(opts: EngineOptions) {
    this.models = new ModelStore(opts.home);
    this.#batchLimits = opts.batchLimits ?? {};
    this.#openDecoder = opts.openDecoder ?? openDecoder;
    this.#loadTokenizer = opts.loadTokenizer ?? loadTokenizer;
    this.#probeDevices = opts.probeDevices ?? probeDevices;
  }

  /** Generates `params.numReturnSequences` continuations of memory + prompt, streaming text through onDelta. */
  async generate(req: EngineGenerateRequest): Promise<EngineGenerateResult> {
    const loadStart = performance.now();
    const topLogprobs = req.topLogprobs ?? 0;
    if (!Number.isInteger(topLogprobs) || topLogprobs < 0 || topLogprobs > MAX_TOP_LOGPROBS) {
      throw new EngineError('bad_input', `top logprobs must be an integer from 0 to ${MAX_TOP_LOGPROBS}, got ${topLogprobs}`);
    }
    const model = this.models.get(req.modelId);
    const draftModel = req.speculative ? this.models.get(req.speculative.draftModelId) : null;
    const { tokenizer, decoder } = await this.#load(model, req.params.device);
    let draft: LoadedDecoder | null = null;
    try {
      if (draftModel) {
        const loaded = await this.#load(draftModel, req.params.device);
        draft = loaded.decoder;
        checkSameVocabulary(model, tokenizer, draftModel, loaded.tokenizer);
      }
    } catch (error) {
      if (draft) await this.#releaseUse(draft);
      await this.#releaseUse(decoder);
      throw error;
    }
    const loadMs = performance.now() - loadStart;
    try {
      const session = decoder.session as DecoderSession;
      const seed = req.params.seed ?? randomSeed();
      const job = {
        tokenizer,
        prompt: req.prompt,
        memory: req.memory ?? '',
        params: req.params,
        seed,
        topLogprobs,
        signal: req.signal,
        onStart: req.onStart?.bind(req),
        onDelta: req.onDelta?.bind(req),
      };
      let speculative: EngineGenerateResult['speculative'];
      let outcome;
      if (draft && draftModel) {
        const draftTokens = req.speculative?.draftTokens ?? DEFAULT_DRAFT_TOKENS;
        const result = await runSpeculative(session, job, { draft: draft.session as DecoderSession, draftTokens });
        speculative = { ...result.speculative, draftModelId: draftModel.id };
        outcome = result;
      } else {
        outcome = await this.#scheduler(decoder).submit(job);
      }
      const fallbackReason = session.device.fallbackReason;
      return {
        modelId: model.id,
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
  async tokenize(modelId: string, text: string): Promise<{ ids: number[]; tokens: string[] }> {
    const tokenizer = await this.#tokenizer(this.models.get(modelId));
    const ids = tokenizer.encode(text);
    return { ids, tokens: tokenizer.tokenStrings(ids) };
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
  async logits(modelId: string, prompt: string, all: boolean, device: DeviceRequest = 'auto'): Promise<EngineLogits> {
    const model = this.models.get(modelId);
    const tokenizer = await this.#tokenizer(model);
    const tokenIds = tokenizer.encode(prompt);
    if (tokenIds.length === 0) throw new EngineError('bad_input', 'prompt is empty: logits need at least one token');
    const window = model.config.nPositions;
    if (tokenIds.length > window) {
      throw new EngineError('bad_input', `prompt is ${tokenIds.length} tokens; the model's context window is ${window}`);
    }
    // Unlike generate, opened only after the prompt is checked: a refused prompt loads no decoder.
    const { decoder } = await this.#acquire(model, device);
    try {
      const session = decoder.session as DecoderSession;
      const vocab = model.config.vocabSize;
      if (all) {
        const flat = await session.logitsAll(tokenIds);
        const rows = tokenIds.map((_, i) => flat.slice(i * vocab, (i + 1) * vocab));
        return { tokenIds, logitsLast: rows[rows.length - 1] as Float32Array, logits: rows };
      }
      const batch = session.createBatch();
      try {
        const { out } = await batch.prefill(tokenIds, 1);
        return { tokenIds, logitsLast: out.logits.slice(0, vocab) };
      } finally {
        batch.dispose();
      }
    } finally {
      await this.#releaseUse(decoder);
    }
  }

  /** Decoders currently loaded, with the device each runs on. */
  loaded(): { modelId: string; device: DeviceName }[] {
    const seen = new Set<string>();
    const out: { modelId: string; device: DeviceName }[] = [];
    for (const d of this.#decoders) {
      if (!d.session || d.unloaded) continue;
      const key = `${d.modelId}\0${d.session.device.used}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ modelId: d.modelId, device: d.session.device.used });
    }
    return out;
  }

  /** What each loaded decoder's scheduler is running and holding (for admission and diagnostics). */
  batchStatus(): { modelId: string; device: DeviceName; status: SchedulerStatus }[] {
    return this.#decoders.flatMap((d) => (d.session && d.scheduler && !d.unloaded ? [{ modelId: d.modelId, device: d.session.device.used, status: d.scheduler.status }] : []));
  }

  /** Which devices work on this machine (a real probe session per device, cached per process). */
  probeDevices(): Promise<DeviceStatus[]> {
    return this.#probeDevices();
  }

  /** Releases every decoder and the tokenizer of `modelId` (decoders in use are released when their request ends). */
  async unload(modelId: string): Promise<void> {
    this.#tokenizers.delete(modelId);
    const leaving = this.#decoders.filter((d) => d.modelId === modelId);
    this.#decoders = this.#decoders.filter((d) => d.modelId !== modelId);
    await Promise.all(leaving.map((d) => this.#retire(d)));
  }

  /** Releases everything; the engine refuses work afterwards. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    const leaving = this.#decoders;
    this.#decoders = [];
    this.#tokenizers.clear();
    await Promise.all(leaving.map((d) => this.#retire(d)));
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
  async #load(model: StoredModel, device: DeviceRequest): Promise<{ tokenizer: Gpt2Tokenizer; decoder: LoadedDecoder }> {
    const [tokenizer, acquired] = await Promise.allSettled([this.#tokenizer(model), this.#acquire(model, device)]);
    if (tokenizer.status === 'rejected') {
      if (acquired.status === 'fulfilled') await this.#abandon(acquired.value.decoder, acquired.value.opened);
      throw tokenizer.reason;
    }
    if (acquired.status === 'rejected') throw acquired.reason;
    return { tokenizer: tokenizer.value, decoder: acquired.value.decoder };
  }

  /**
   * The decoder for (model, device), opened on first use (`opened`: by this call); the caller must
   * #releaseUse it.
   */
  async #acquire(model: StoredModel, device: DeviceRequest): Promise<{ decoder: LoadedDecoder; opened: boolean }> {
    this.#checkOpen();
    const stale = this.#decoders.filter((d) => d.modelId === model.id && d.importedAt !== model.importedAt);
    if (stale.length > 0) {
      this.#decoders = this.#decoders.filter((d) => !stale.includes(d));
      await Promise.all(stale.map((d) => this.#retire(d)));
    }
    let entry = this.#find(model.id, device);
    const opened = !entry;
    if (!entry) {
      const created: LoadedDecoder = {
        modelId: model.id,
        requested: device,
        importedAt: model.importedAt,
        ready: decoderPaths(model).then((paths) => this.#openDecoder(paths, model.config, device)),
        users: 0,
        unloaded: false,
      };
      this.#decoders.push(created);
      entry = created;
    }
    entry.users++;
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
  #find(modelId: string, device: DeviceRequest): LoadedDecoder | undefined {
    const same = this.#decoders.find((d) => d.modelId === modelId && d.requested === device);
    if (same || device === 'auto') return same;
    return this.#decoders.find((d) => d.modelId === modelId && d.session?.device.used === device && d.session.device.fallbackReason === undefined);
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

/**
 * The graphs of a stored model. Models imported before the 'rows' graph existed get it now,
 * built beside their other graphs from the weights already there.
 */
export async function decoderPaths(model: StoredModel): Promise<DecoderPaths> {
  const onnxDir = dirname(model.decoderPath);
  const rowsPath = join(onnxDir, ROWS_FILE);
  if (!existsSync(rowsPath)) await ensureRowsGraph(model.dir, onnxDir);
  return { decoderPath: model.decoderPath, fullLogitsPath: model.fullLogitsPath, rowsPath };
}

/** Refuses a draft whose tokens are not the target's (same ids for the same bytes). */
function checkSameVocabulary(model: StoredModel, tokenizer: Gpt2Tokenizer, draftModel: StoredModel, draftTokenizer: Gpt2Tokenizer): void {
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
