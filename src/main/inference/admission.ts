/**
 * Admission control for generations: a bound on the work the inference process is given, kept on
 * the main side so that a request the machine cannot take now is refused at once with a clear
 * 'busy' error instead of piling up in a process that then runs out of memory (issue 6 §3.1: eight
 * 8-sequence generations with ~1000-token prompts took a 12-layer model's process past 7.8 GB, and
 * 200 long jobs were all accepted).
 *
 * Work is counted in sequences (each one is a row of the decode batch) and in bytes, estimated
 * from the model's shape: the KV cache of every sequence at its longest, held twice during a step
 * (past and present), plus the prefill's attention scores and activations. `WorkBound` is the
 * bound itself, small enough for a continuous-batching scheduler to reuse when it admits several
 * requests into one decode batch; `AdmissionQueue` runs requests through it in arrival order and
 * keeps a bounded queue behind it.
 */
import { totalmem } from 'node:os';
import { ApiError, type GenerationParams } from '../../shared/api';

/** The model dimensions the estimate needs (a stored model's config). */
export interface ModelShape {
  nLayer: number;
  nEmbd: number;
  nHead: number;
  nPositions: number;
  vocabSize: number;
}

/** What one request costs while it runs. */
export interface WorkCost {
  sequences: number;
  bytes: number;
}

const FLOAT32_BYTES = 4;
// The GPT-2 MLP widens each position to 4 × n_embd; with the residual stream, layer norms and
// attention projections alive at once, about 16 floats per position and channel is the peak.
const PREFILL_FLOATS_PER_CHANNEL = 16;

/**
 * An upper bound on the memory one generation needs. The prompt's token count is not known on the
 * main side (the inference process tokenizes), but a GPT-2 token is at least one UTF-8 byte, and
 * nothing exceeds the context window.
 */
export function estimateGenerationCost(
  shape: ModelShape,
  request: { prompt: string; memory: string; params: Pick<GenerationParams, 'maxNewTokens' | 'maxLength' | 'numReturnSequences'> },
): WorkCost {
  const { nLayer, nEmbd, nHead, nPositions, vocabSize } = shape;
  const sequences = request.params.numReturnSequences;
  const promptTokens = Math.min(nPositions, utf8Length(request.memory) + utf8Length(request.prompt));
  const length = Math.min(nPositions, request.params.maxLength ?? Infinity, promptTokens + request.params.maxNewTokens);
  // The prompt is cut to leave room for new tokens, so the prefill never runs longer than `length`.
  const prefillTokens = Math.min(promptTokens, length);
  const kvCache = 2 * nLayer * sequences * length * nEmbd * FLOAT32_BYTES;
  const prefill = (nHead * prefillTokens * prefillTokens + PREFILL_FLOATS_PER_CHANNEL * prefillTokens * nEmbd) * FLOAT32_BYTES;
  const logits = 2 * sequences * vocabSize * FLOAT32_BYTES;
  return { sequences, bytes: 2 * kvCache + prefill + logits };
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4;
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}

/** Limits of a WorkBound. */
export interface WorkLimits {
  /** Sequences running at once, all requests together. */
  maxSequences: number;
  /** Estimated bytes of running work, all requests together. */
  maxBytes: number;
}

/** A bound on work in progress: what is taken must be given back. */
export class WorkBound {
  readonly limits: Readonly<WorkLimits>;
  #sequences = 0;
  #bytes = 0;

  constructor(limits: WorkLimits) {
    this.limits = { ...limits };
  }

  /** Work currently taken. */
  get used(): WorkCost {
    return { sequences: this.#sequences, bytes: this.#bytes };
  }

  /** Whether `cost` fits beside what is taken now. */
  fits(cost: WorkCost): boolean {
    return this.#sequences + cost.sequences <= this.limits.maxSequences && this.#bytes + cost.bytes <= this.limits.maxBytes;
  }

  /** Whether `cost` would fit with nothing else running: work that never fits must be refused, not queued. */
  canEverFit(cost: WorkCost): boolean {
    return cost.sequences <= this.limits.maxSequences && cost.bytes <= this.limits.maxBytes;
  }

  /** Takes `cost` if it fits; false (and nothing taken) otherwise. */
  tryTake(cost: WorkCost): boolean {
    if (!this.fits(cost)) return false;
    this.#sequences += cost.sequences;
    this.#bytes += cost.bytes;
    return true;
  }

  /** Gives back what a finished request took. */
  give(cost: WorkCost): void {
    this.#sequences = Math.max(0, this.#sequences - cost.sequences);
    this.#bytes = Math.max(0, this.#bytes - cost.bytes);
  }
}

/** Limits of an AdmissionQueue. */
export interface AdmissionLimits extends WorkLimits {
  /** Sequences that may wait behind the running ones; past this a request is refused as busy. */
  maxQueuedSequences: number;
}

/**
 * Default limits for this machine: 16 sequences running (two full 8-candidate requests, or a
 * comparison of two models), 32 more waiting, and half of the machine's memory for generation work
 * (the weights come on top). INKWELL_WORK_MEMORY_MB overrides the memory share.
 */
export function defaultAdmissionLimits(env: NodeJS.ProcessEnv = process.env, machineBytes: number = totalmem()): AdmissionLimits {
  const override = Number(env.INKWELL_WORK_MEMORY_MB);
  const maxBytes = Number.isFinite(override) && override > 0 ? override * 1024 * 1024 : Math.floor(machineBytes / 2);
  return { maxSequences: 16, maxBytes, maxQueuedSequences: 32 };
}

/** A place in the queue: `admitted` resolves when the work may start; `release` must follow once it ends. */
export interface Admission {
  readonly admitted: Promise<void>;
  /** Gives the work back (or leaves the queue); calling it again does nothing. */
  release(): void;
}

interface Waiting {
  cost: WorkCost;
  admit(): void;
  reject(error: ApiError): void;
}

/** Background work waits for `cost` plus `reserve` to be free, and only while no request waits. */
interface BackgroundWaiting extends Waiting {
  reserve: WorkCost;
}

/** Runs requests through a WorkBound in arrival order, with a bounded queue behind it. */
export class AdmissionQueue {
  readonly bound: WorkBound;
  readonly #maxQueuedSequences: number;
  readonly #waiting: Waiting[] = [];
  readonly #background: BackgroundWaiting[] = [];

  constructor(limits: AdmissionLimits) {
    this.bound = new WorkBound(limits);
    this.#maxQueuedSequences = limits.maxQueuedSequences;
  }

  /** Requests waiting and the sequences they hold. */
  get queued(): { requests: number; sequences: number } {
    return { requests: this.#waiting.length, sequences: this.#waiting.reduce((sum, w) => sum + w.cost.sequences, 0) };
  }

  /**
   * Admits `cost` now, queues it, or throws: ApiError 'refused' for work this machine can never
   * hold, 'busy' when the queue is full. `signal` takes a queued request out ('cancelled').
   */
  enter(cost: WorkCost, signal?: AbortSignal): Admission {
    if (!this.bound.canEverFit(cost)) {
      throw new ApiError(
        'refused',
        `this generation needs about ${gib(cost.bytes)} of memory for ${cost.sequences} sequence(s), more than the ${gib(this.bound.limits.maxBytes)} ` +
          `Inkwell allows itself for generating on this machine (at most ${this.bound.limits.maxSequences} sequences at once): ask for fewer candidates or fewer tokens`,
      );
    }
    let released = false;
    // Arrival order: nobody overtakes a waiting request, so a large one is not starved by small ones.
    if (this.#waiting.length === 0 && this.bound.tryTake(cost)) {
      return {
        admitted: Promise.resolve(),
        release: () => {
          if (released) return;
          released = true;
          this.bound.give(cost);
          this.#admitWaiting();
        },
      };
    }
    const queued = this.queued;
    if (queued.sequences + cost.sequences > this.#maxQueuedSequences) {
      const running = this.bound.used;
      throw new ApiError(
        'busy',
        `Inkwell is busy: ${running.sequences} sequence(s) are being generated and ${queued.requests} request(s) are waiting; try again when one finishes`,
      );
    }
    let state: 'waiting' | 'running' | 'done' = 'waiting';
    let entry: Waiting | undefined;
    const admitted = new Promise<void>((resolve, reject) => {
      entry = {
        cost,
        admit: () => {
          state = 'running';
          resolve();
        },
        reject,
      };
    });
    const waiting = entry as Waiting;
    this.#waiting.push(waiting);
    const onAbort = (): void => {
      if (state !== 'waiting') return;
      state = 'done';
      this.#remove(waiting);
      waiting.reject(new ApiError('cancelled', 'the generation was cancelled while it waited for its turn'));
      this.#admitWaiting();
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    return {
      admitted,
      release: () => {
        if (released) return;
        released = true;
        signal?.removeEventListener('abort', onAbort);
        if (state === 'running') {
          this.bound.give(cost);
        } else if (state === 'waiting') {
          this.#remove(waiting);
          waiting.reject(new ApiError('cancelled', 'the generation left the queue before its turn'));
        }
        state = 'done';
        this.#admitWaiting();
      },
    };
  }

  /**
   * Admits background work (a batch's rows): only when no request is waiting and `cost` fits with
   * `reserve` still free beside it, so that a writer's own generation always finds room or waits
   * at most for the background rows in flight, never behind a queue of them. Background work is
   * never refused as busy (its producer bounds how much of it waits); work that can never fit
   * beside the reserve is refused. `signal` takes it out of the wait ('cancelled').
   */
  enterBackground(cost: WorkCost, reserve: WorkCost, signal?: AbortSignal): Admission {
    const withReserve = { sequences: cost.sequences + reserve.sequences, bytes: cost.bytes + reserve.bytes };
    if (!this.bound.canEverFit(withReserve)) {
      throw new ApiError(
        'refused',
        `a batch row needs ${cost.sequences} sequence(s) and about ${gib(cost.bytes)}; beside the room kept for your own generations ` +
          `(${reserve.sequences} sequences) that is more than this machine allows (${this.bound.limits.maxSequences} sequences, ${gib(this.bound.limits.maxBytes)}): ask for fewer candidates or tokens per row`,
      );
    }
    let state: 'waiting' | 'running' | 'done' = 'waiting';
    let entry: BackgroundWaiting | undefined;
    const admitted = new Promise<void>((resolve, reject) => {
      entry = { cost, reserve, admit: () => ((state = 'running'), resolve()), reject };
    });
    const waiting = entry as BackgroundWaiting;
    const leave = (error: ApiError): void => {
      const at = this.#background.indexOf(waiting);
      if (at >= 0) this.#background.splice(at, 1);
      waiting.reject(error);
    };
    const onAbort = (): void => {
      if (state !== 'waiting') return;
      state = 'done';
      leave(new ApiError('cancelled', 'the batch row was cancelled while it waited for its turn'));
    };
    this.#background.push(waiting);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    this.#admitWaiting();
    let released = false;
    return {
      admitted,
      release: () => {
        if (released) return;
        released = true;
        signal?.removeEventListener('abort', onAbort);
        if (state === 'running') this.bound.give(cost);
        else if (state === 'waiting') leave(new ApiError('cancelled', 'the batch row left the queue before its turn'));
        state = 'done';
        this.#admitWaiting();
      },
    };
  }

  #remove(waiting: Waiting): void {
    const at = this.#waiting.indexOf(waiting);
    if (at >= 0) this.#waiting.splice(at, 1);
  }

  #admitWaiting(): void {
    for (let next = this.#waiting[0]; next && this.bound.tryTake(next.cost); next = this.#waiting[0]) {
      this.#waiting.shift();
      next.admit();
    }
    if (this.#waiting.length > 0) return;
    for (let next = this.#background[0]; next && this.#fitsWithReserve(next); next = this.#background[0]) {
      this.#background.shift();
      this.bound.tryTake(next.cost);
      next.admit();
    }
  }

  #fitsWithReserve(waiting: BackgroundWaiting): boolean {
    return this.bound.fits({ sequences: waiting.cost.sequences + waiting.reserve.sequences, bytes: waiting.cost.bytes + waiting.reserve.bytes });
  }
}

function gib(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${Math.max(1, Math.round(bytes / 1024 ** 2))} MiB`;
}

/** Rows the inspect readout graph reads through lm_head at a time (engine: inspect/inspection.ts). */
const READOUT_CHUNK_ROWS = 256;

/**
 * An upper bound on the memory one inspect pass needs while it runs (issue 8): the pass it holds
 * afterwards (float16 attention triangles of every layer and head, float32 residual streams), one
 * layer's float32 scores and probabilities during the forward, the activations, and one readout
 * chunk's vocabulary-sized logits and log-softmax. A text's token count is bounded by its UTF-8
 * bytes, as for generation. It is one sequence. The inspect session's own copy of the weights
 * comes on top, as a decoder's weights do for generation.
 */
export function estimateInspectCost(shape: ModelShape, target: { text?: string | undefined; tokenIds?: readonly number[] | undefined }): WorkCost {
  const { nLayer, nEmbd, nHead, nPositions, vocabSize } = shape;
  const tokens = Math.max(1, Math.min(nPositions, target.tokenIds?.length ?? utf8Length(target.text ?? '')));
  const held = nLayer * (nHead * ((tokens * (tokens + 1)) / 2) * 2 + tokens * nEmbd * FLOAT32_BYTES);
  const forward = (2 * nHead * tokens * tokens + PREFILL_FLOATS_PER_CHANNEL * tokens * nEmbd) * FLOAT32_BYTES;
  const readout = 2 * Math.min(tokens, READOUT_CHUNK_ROWS) * vocabSize * FLOAT32_BYTES;
  return { sequences: 1, bytes: held + forward + readout };
}
