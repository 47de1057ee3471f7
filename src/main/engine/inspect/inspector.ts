/**
 * The inspector: runs the inspect pass of a stored model over a text (or exact token ids), keeps the
 * last few passes in memory within a byte budget, and serves their views: the next-token
 * log-probabilities at once, attention and the logit lens one layer at a time.
 */
import { formatBytes } from '../../../shared/models';
import { dirname } from 'node:path';
import { readCheckpoint } from '../checkpoint';
import type { StoredModel } from '../models/store';
import type { InspectSession } from '../runtime/inspect-session';
import type { openInspectSession } from '../runtime/threaded-inspect-session';
import type { Gpt2Tokenizer } from '../tokenizer';
import { EngineError, type DeviceName, type DeviceRequest } from '../types';
import { ensureInspectGraphs } from './graph-files';
import {
  inspectionBytes, Inspection, nextTokenTargets,
  type AttentionLayerPayload, type AttentionOverviewPayload, type LensLayerPayload,
} from './inspection';
import { positionalEncodings, readTensorFloat32, type PositionalEncodingsPayload, type PositionalOptions } from './positional';
import { tokenText, tokenViews, type TokenView } from './token-view';

/** What to inspect: a text (tokenized with the model's tokenizer) or exact token ids (e.g. a candidate's). */
export interface InspectRequest {
  readonly modelId: string;
  readonly text?: string;
  readonly tokenIds?: readonly number[];
  /** Default 'auto'. */
  readonly device?: DeviceRequest;
}

/** A likely token at one position. */
export interface TopToken {
  readonly id: number;
  /** The token's text, or its bytes as "<0xE2>" when it is only part of a character. */
  readonly token: string;
  readonly logprob: number;
}

/** What the model predicted at one position. */
export interface PositionPrediction {
  /** Log-probability (natural log) of the token that actually came next. */
  readonly logprob: number;
  /** Entropy of the distribution, in nats. */
  readonly entropy: number;
  /** The most likely tokens, most likely first. */
  readonly top: readonly TopToken[];
}

/** The summary of an inspect pass: everything but the per-layer payloads. */
export interface InspectResult {
  readonly modelId: string;
  readonly device: DeviceName;
  readonly deviceFallbackReason?: string;
  readonly tokenIds: readonly number[];
  /** One chip per token (whitespace visible, partial characters grouped). */
  readonly tokens: readonly TokenView[];
  readonly layers: number;
  readonly heads: number;
  /** positions[k] is about token k + 1 given tokens 0..k (so there are S − 1). */
  readonly positions: readonly PositionPrediction[];
  /** The prediction after the last token. */
  readonly next: { readonly entropy: number; readonly top: readonly TopToken[] };
  /** Bytes of one AttentionLayerPayload's data, and of everything this pass holds. */
  readonly sizes: { readonly attentionLayerBytes: number; readonly heldBytes: number };
  /** Of the run that computed the pass (load: graphs built if missing and sessions opened). */
  readonly timings: { readonly loadMs: number; readonly forwardMs: number; readonly readoutMs: number };
  /** True when the pass was already held and nothing ran. */
  readonly reused: boolean;
}

/** Top-k of the next-token view (the "top 10 alternatives"). */
export const NEXT_TOKEN_TOP = 10;
/** Largest k the lens and next-token views accept. */
export const MAX_TOP = 100;
/**
 * Default ceiling on what held passes may take. The largest supported shape, GPT-2 XL × 1024
 * tokens, holds 1.57 GB (48 × 25 × 524 800 float16 weights plus 48 × 1024 × 1600 float32 residuals);
 * GPT-2 Large × 1024 holds 0.94 GB, × 512 0.28 GB.
 */
export const DEFAULT_MAX_INSPECT_BYTES = 2 * 1024 ** 3;
/**
 * The inspect graphs hold their own copy of the weights (onnxruntime prepacks each session's MatMul
 * weights separately; GPT-2 Large: 3.1 GB beside the decoder's), so an idle inspect session is let go.
 * Held passes stay; the next lens layer reopens it.
 */
export const DEFAULT_INSPECT_IDLE_MS = 5 * 60_000;
/** Passes kept for re-use (e.g. switching back and forth between two texts). */
const KEPT_PASSES = 2;

/** What the inspector needs from the engine. */
export interface InspectorDeps {
  model(id: string): StoredModel;
  tokenizer(model: StoredModel): Promise<Gpt2Tokenizer>;
  openInspectSession?: typeof openInspectSession;
  /** Largest pass held (default DEFAULT_MAX_INSPECT_BYTES); a longer text is refused before it runs. */
  maxBytes?: number;
  /** An inspect session unused this long is released (default DEFAULT_INSPECT_IDLE_MS; 0: never). */
  idleReleaseMs?: number;
}

interface OpenSession {
  readonly importedAt: string;
  readonly device: DeviceRequest;
  readonly ready: Promise<InspectSession>;
}

interface HeldPass {
  readonly key: string;
  readonly modelId: string;
  readonly inspection: Inspection;
  readonly result: InspectResult;
}

/** Inspect passes over stored models; one inspect session per model, passes run one at a time. */
export class Inspector {
  readonly #deps: InspectorDeps;
  readonly #open: typeof openInspectSession;
  readonly #maxBytes: number;
  readonly #idleMs: number;
  readonly #sessions = new Map<string, OpenSession>();
  readonly #idleTimers = new Map<string, NodeJS.Timeout>();
  #passes: HeldPass[] = [];
  #queue: Promise<unknown> = Promise.resolve();
  #positional: { key: string; payload: Promise<PositionalEncodingsPayload> } | undefined;

  constructor(deps: InspectorDeps) {
    this.#deps = deps;
    // Loaded on first use, so that importing the engine's entry does not load onnxruntime-node.
    this.#open = deps.openInspectSession ?? (async (...args) => (await import('../runtime/threaded-inspect-session')).openInspectSession(...args));
    this.#maxBytes = deps.maxBytes ?? DEFAULT_MAX_INSPECT_BYTES;
    this.#idleMs = deps.idleReleaseMs ?? DEFAULT_INSPECT_IDLE_MS;
  }

  /** Runs the inspect pass (or finds it held) and returns its summary. */
  async inspect(req: InspectRequest): Promise<InspectResult> {
    const pass = await this.#pass(req);
    return pass.computed ? pass.result : { ...pass.result, reused: true };
  }

  /** Layer `layer`'s attention of every head (packed float16 triangles). */
  async attention(req: InspectRequest, layer: number): Promise<AttentionLayerPayload> {
    return (await this.#pass(req)).inspection.attentionLayer(layer);
  }

  /** Layer `layer`'s attention as float32 rows: [head][query i] → weights of keys 0..i. */
  async attentionRows(req: InspectRequest, layer: number): Promise<Float32Array[][]> {
    return (await this.#pass(req)).inspection.attentionRows(layer);
  }

  /** Every layer × head pooled to at most size × size cells. */
  async overview(req: InspectRequest, size: number): Promise<AttentionOverviewPayload> {
    return (await this.#pass(req)).inspection.attentionOverview(size);
  }

  /** The logit lens after block `layer`, top `k` per position. */
  async lens(req: InspectRequest, layer: number, k: number): Promise<LensLayerPayload> {
    checkTop(k);
    const { inspection, modelId } = await this.#pass(req);
    return this.#exclusive(() => inspection.lensLayer(layer, k)).finally(() => this.#touch(modelId));
  }

  /** The sinusoidal and the learned (wpe) position encodings of `modelId`, with their position-by-position cosine similarities. */
  positionalEncodings(modelId: string, options: PositionalOptions = {}): Promise<PositionalEncodingsPayload> {
    const model = this.#deps.model(modelId);
    const key = [model.id, model.importedAt, options.maxPositions, options.maxDims, options.maxSimilarityPositions].join('\0');
    if (this.#positional?.key !== key) {
      const payload = (async () => {
        const wpe = (await readCheckpoint(model.dir)).tensors.get('wpe.weight');
        if (!wpe) throw new EngineError('bad_input', `${model.dir}: no wpe.weight`);
        return positionalEncodings(readTensorFloat32(wpe), model.config.nPositions, model.config.nEmbd, options);
      })();
      const entry = { key, payload };
      this.#positional = entry;
      payload.catch(() => {
        if (this.#positional === entry) this.#positional = undefined;
      });
    }
    return this.#positional.payload;
  }

  /** The text of each token id for lists and JSON (partial characters as "<0xE2>"). */
  async tokenTexts(modelId: string, ids: readonly number[]): Promise<string[]> {
    const tokenizer = await this.#deps.tokenizer(this.#deps.model(modelId));
    return ids.map((id) => textOfId(tokenizer, id));
  }

  /**
   * The chips of a text (or of token ids) under `modelId`'s tokenizer, with the model's window: no
   * pass runs and no length limit applies beyond the vocabulary, so a whole document can be shown
   * with the point where the window starts.
   */
  async tokenViews(req: Pick<InspectRequest, 'modelId' | 'text' | 'tokenIds'>): Promise<{ tokenIds: number[]; tokens: TokenView[]; window: number }> {
    const model = this.#deps.model(req.modelId);
    const tokenizer = await this.#deps.tokenizer(model);
    if ((req.text === undefined) === (req.tokenIds === undefined)) throw new EngineError('bad_input', 'tokens need either a text or token ids, not both');
    const ids = req.text !== undefined ? tokenizer.encode(req.text) : [...(req.tokenIds as readonly number[])];
    for (const id of ids) {
      if (!Number.isSafeInteger(id) || id < 0 || id >= tokenizer.vocabSize) throw new EngineError('bad_input', `token id ${id} is outside the vocabulary (0..${tokenizer.vocabSize - 1})`);
    }
    return { tokenIds: ids, tokens: tokenViews(ids, (id) => tokenizer.tokenBytes(id), (id) => id === tokenizer.eosTokenId), window: model.config.nPositions };
  }

  /** Forgets the passes and closes the session of `modelId`. */
  async unload(modelId: string): Promise<void> {
    this.#passes = this.#passes.filter((p) => p.modelId !== modelId);
    if (this.#positional?.key.startsWith(`${modelId}\0`)) this.#positional = undefined;
    await this.#closeSession(modelId);
  }

  /** Whether `modelId` has an inspect session open (or opening). */
  hasSession(modelId: string): boolean {
    return this.#sessions.has(modelId);
  }

  async #closeSession(modelId: string): Promise<void> {
    clearTimeout(this.#idleTimers.get(modelId));
    this.#idleTimers.delete(modelId);
    const open = this.#sessions.get(modelId);
    this.#sessions.delete(modelId);
    if (open) await this.#exclusive(async () => (await open.ready.catch(() => undefined))?.release());
  }

  /** (Re)starts the idle countdown of `modelId`'s session, if it has one. */
  #touch(modelId: string): void {
    if (this.#idleMs <= 0 || !this.#sessions.has(modelId)) return;
    clearTimeout(this.#idleTimers.get(modelId));
    // The release is queued behind running work, so a pass that began before the timer fired keeps its session.
    const timer = setTimeout(() => void this.#closeSession(modelId), this.#idleMs);
    timer.unref();
    this.#idleTimers.set(modelId, timer);
  }

  /** Forgets every pass and closes every session. */
  async dispose(): Promise<void> {
    const ids = [...this.#sessions.keys()];
    this.#passes = [];
    await Promise.all(ids.map((id) => this.unload(id)));
  }

  /** Runs `work` after every earlier pass or lens read: two passes at once would hold twice the memory. */
  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** The held pass for `req`, run now if there is none (`computed`: by this call). */
  async #pass(req: InspectRequest): Promise<HeldPass & { computed: boolean }> {
    const model = this.#deps.model(req.modelId);
    const tokenizer = await this.#deps.tokenizer(model);
    const ids = inputIds(req, tokenizer, model.config.nPositions, model.config.vocabSize);
    const device = req.device ?? 'auto';
    const key = `${model.id}\0${model.importedAt}\0${device}\0${ids.join(',')}`;
    const held = this.#passes.find((p) => p.key === key);
    if (held) {
      this.#passes = [held, ...this.#passes.filter((p) => p !== held)];
      return { ...held, computed: false };
    }
    const needed = inspectionBytes(model.config, ids.length);
    if (needed > this.#maxBytes) {
      throw new EngineError('refused', `inspecting ${ids.length} tokens with ${model.id} would hold ${formatBytes(needed)} `
        + `(attention of ${model.config.nLayer} layers × ${model.config.nHead} heads); the limit is ${formatBytes(this.#maxBytes)}: inspect a shorter text`);
    }
    return this.#exclusive(async () => {
      const again = this.#passes.find((p) => p.key === key);
      if (again) return { ...again, computed: false };
      // Make room before the pass runs, not after: the old passes' memory is needed now.
      this.#passes = this.#fitting(needed);
      const loadStart = performance.now();
      const session = await this.#session(model, device);
      const loadMs = performance.now() - loadStart;
      const forwardStart = performance.now();
      const forward = await session.forward(ids);
      const forwardMs = performance.now() - forwardStart;
      const readoutStart = performance.now();
      const final = await session.readout(forward.hidden[model.config.nLayer - 1] as Float32Array, nextTokenTargets(ids), NEXT_TOKEN_TOP);
      const readoutMs = performance.now() - readoutStart;
      // The session may be released when idle and opened again by the time a lens layer is asked for.
      const inspection = new Inspection(ids, model.config, forward, final, async (h, t, k) => (await this.#session(model, device)).readout(h, t, k));

      const top = (row: number): TopToken[] => Array.from({ length: NEXT_TOKEN_TOP }, (_, r) => {
        const id = final.topIds[row * NEXT_TOKEN_TOP + r] as number;
        return { id, token: textOfId(tokenizer, id), logprob: final.topLogprobs[row * NEXT_TOKEN_TOP + r] as number };
      });
      const S = ids.length;
      const result: InspectResult = {
        modelId: model.id,
        device: session.device.used,
        ...(session.device.fallbackReason !== undefined ? { deviceFallbackReason: session.device.fallbackReason } : {}),
        tokenIds: ids,
        tokens: tokenViews(ids, (id) => tokenizer.tokenBytes(id), (id) => id === tokenizer.eosTokenId),
        layers: model.config.nLayer,
        heads: model.config.nHead,
        positions: Array.from({ length: S - 1 }, (_, p) => ({ logprob: final.targetLogprobs[p] as number, entropy: final.entropy[p] as number, top: top(p) })),
        next: { entropy: final.entropy[S - 1] as number, top: top(S - 1) },
        sizes: { attentionLayerBytes: (forward.attentions[0]?.byteLength ?? 0), heldBytes: inspection.bytes },
        timings: { loadMs, forwardMs, readoutMs },
        reused: false,
      };
      const pass: HeldPass = { key, modelId: model.id, inspection, result };
      this.#passes = [pass, ...this.#passes];
      return { ...pass, computed: true };
    }).finally(() => this.#touch(model.id));
  }

  /** The held passes that may stay while a pass of `needed` bytes runs. */
  #fitting(needed: number): HeldPass[] {
    const kept: HeldPass[] = [];
    let bytes = needed;
    for (const p of this.#passes) {
      if (kept.length + 1 >= KEPT_PASSES || bytes + p.inspection.bytes > this.#maxBytes) break;
      kept.push(p);
      bytes += p.inspection.bytes;
    }
    return kept;
  }

  async #session(model: StoredModel, device: DeviceRequest): Promise<InspectSession> {
    // No countdown while the session is in use; #touch starts it when the work is done.
    clearTimeout(this.#idleTimers.get(model.id));
    this.#idleTimers.delete(model.id);
    const current = this.#sessions.get(model.id);
    if (current && current.importedAt === model.importedAt && current.device === device) return current.ready;
    if (current) {
      this.#sessions.delete(model.id);
      await (await current.ready.catch(() => undefined))?.release();
    }
    const ready = (async () => {
      const paths = await ensureInspectGraphs(model.dir, dirname(model.decoderPath));
      return this.#open(paths, model.config, device);
    })();
    const entry: OpenSession = { importedAt: model.importedAt, device, ready };
    this.#sessions.set(model.id, entry);
    ready.catch(() => {
      if (this.#sessions.get(model.id) === entry) this.#sessions.delete(model.id);
    });
    return ready;
  }
}

/**
 * A predicted id's text. A checkpoint may have more output rows than its tokenizer has tokens (a
 * vocabulary padded for speed); such an id has no text and is shown as "<id N>".
 */
function textOfId(tokenizer: Gpt2Tokenizer, id: number): string {
  return id < tokenizer.vocabSize ? tokenText(tokenizer.tokenBytes(id)) : `<id ${id}>`;
}

function checkTop(k: number): void {
  if (!Number.isInteger(k) || k < 1 || k > MAX_TOP) throw new EngineError('bad_input', `top-k ${k} must be an integer from 1 to ${MAX_TOP}`);
}


/** The token ids a request names, checked against the context window and the vocabulary. */
function inputIds(req: InspectRequest, tokenizer: Gpt2Tokenizer, window: number, vocabSize: number): number[] {
  if ((req.text === undefined) === (req.tokenIds === undefined)) throw new EngineError('bad_input', 'inspect needs either a text or token ids, not both');
  const ids = req.text !== undefined ? tokenizer.encode(req.text) : [...(req.tokenIds as readonly number[])];
  const what = req.text !== undefined ? 'text' : 'token list';
  if (ids.length === 0) throw new EngineError('bad_input', `${what} is empty: inspecting needs at least one token`);
  if (ids.length > window) throw new EngineError('bad_input', `${what} is ${ids.length} tokens; the model's context window is ${window}`);
  for (const id of ids) {
    if (!Number.isSafeInteger(id) || id < 0 || id >= vocabSize) throw new EngineError('bad_input', `token id ${id} is outside the vocabulary (0..${vocabSize - 1})`);
  }
  return ids;
}
