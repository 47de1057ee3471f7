/**
 * The decode loop as a scheduler (continuous batching, as vLLM and TGI do it): generation requests
 * on one decoder share its decode steps, so the weights are read once per step for all of them.
 *
 * A request's prompt is prefilled alone, once, and its sampled sequences become rows of the shared
 * batch (a greedy request is one row: its K sequences would be identical). Every step feeds one
 * token to every row; a row that finishes leaves at once and a waiting request joins before the
 * next step. Rows keep their own lengths (runtime/row-batch.ts), a row's logits never depend on
 * the other rows, and each sequence draws from its own random stream, so a request's output is the
 * same whether it runs alone or beside others.
 *
 * Bounds: at most `maxRows` rows decode together and the running requests reserve at most
 * `maxKvBytes` of cache (prompt + max new tokens per row); a request that does not fit waits, in
 * arrival order, and one that could never fit beside others still runs when the batch is empty.
 * More than `maxWaiting` waiting requests are refused.
 */
import type { FinishReason } from '../../../shared/api';
import type { DecoderBatch, DecoderSession, RowLogits } from '../runtime';
// row-book, not the runtime entry: the entry loads onnxruntime-node, which the desktop main process must not.
import { kvBytesPerPosition } from '../runtime/row-book';
import { EngineError } from '../types';
import { planContext, type ContextPlan } from './context-window';
import type { GeneratedSequence, GenerationJob, DecodeOutcome } from './generate';
import { Lane } from './lane';
import { TokenChooser } from './next-token';
import { sequenceRng } from './rng';

/** What may run together on one decoder. */
export interface BatchLimits {
  /** Rows decoded together at most (each sampled sequence is a row; a greedy request is one row). */
  readonly maxRows: number;
  /** Cache bytes the running requests may reserve together (prompt + max new tokens, per row). */
  readonly maxKvBytes: number;
  /** Requests that may wait for room; more are refused. */
  readonly maxWaiting: number;
}

/**
 * Defaults: 16 rows (two requests of the 8 candidates the API allows; on a CPU more rows add
 * little throughput), 2 GiB of cache (GPT-2 Large holds 369 KB per position and row), 64 waiting.
 */
export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxRows: 16, maxKvBytes: 2 * 1024 ** 3, maxWaiting: 64 };

/** What a scheduler is doing now. */
export interface SchedulerStatus {
  runningRequests: number;
  runningRows: number;
  waitingRequests: number;
  /** Cache bytes the running requests reserve (prompt + max new tokens per row). */
  reservedKvBytes: number;
  /** Cache bytes the batch has allocated. */
  allocatedKvBytes: number;
  /** Decode steps run so far (each serves every running row). */
  steps: number;
  /** Rows fed over all decode steps (steps × rows per step, summed). */
  rowSteps: number;
}

/** A lane of a request and its row in the batch. */
interface Row {
  readonly job: Job;
  readonly lane: Lane;
  /** Its row in the batch while it runs. */
  id: number | null;
  /** Positions the row holds. */
  length: number;
  /** The token chosen last, to be fed at the next step. */
  pending: number;
}

interface Job {
  readonly run: GenerationJob;
  readonly plan: ContextPlan;
  readonly lanes: Row[];
  readonly reservedKvBytes: number;
  readonly resolve: (outcome: DecodeOutcome) => void;
  readonly reject: (error: unknown) => void;
  prefillMs: number;
  decodeStart: number;
  settled: boolean;
}

/** Runs generation requests on one decoder, sharing its decode steps. */
export class DecodeScheduler {
  readonly #session: DecoderSession;
  readonly #limits: BatchLimits;
  readonly #bytesPerPosition: number;
  #batch: DecoderBatch | null = null;
  readonly #waiting: Job[] = [];
  #running: Job[] = [];
  #driving = false;
  #closed = false;
  #steps = 0;
  #rowSteps = 0;
  /** One vocabulary-sized row the token choosers write into (choices are synchronous). */
  readonly #scratch: Float32Array;

  constructor(session: DecoderSession, limits: Partial<BatchLimits> = {}) {
    this.#session = session;
    this.#limits = { ...DEFAULT_BATCH_LIMITS, ...limits };
    for (const [name, value] of Object.entries(this.#limits)) {
      if (!(value >= 1)) throw new EngineError('internal', `batch limit ${name} must be at least 1, got ${value}`);
    }
    this.#bytesPerPosition = kvBytesPerPosition(session.config);
    this.#scratch = new Float32Array(session.config.vocabSize);
  }

  /** The limits this scheduler applies. */
  get limits(): BatchLimits {
    return this.#limits;
  }

  /** Running and waiting work, and the steps run so far. */
  get status(): SchedulerStatus {
    return {
      runningRequests: this.#running.length,
      runningRows: this.#running.reduce((n, job) => n + job.lanes.filter((l) => l.id !== null).length, 0),
      waitingRequests: this.#waiting.length,
      reservedKvBytes: this.#reservedKvBytes(),
      allocatedKvBytes: this.#batch?.kvBytes ?? 0,
      steps: this.#steps,
      rowSteps: this.#rowSteps,
    };
  }

  /**
   * Queues a request; resolves when all its sequences have ended. Refused at once (never queued)
   * when the prompt leaves no room for a new token or too many requests are waiting.
   */
  submit(run: GenerationJob): Promise<DecodeOutcome> {
    try {
      if (this.#closed) throw new EngineError('internal', 'the decoder was released');
      if (this.#waiting.length >= this.#limits.maxWaiting) {
        throw new EngineError('refused', `${this.#waiting.length} generation requests are already waiting for this model; try again when one has finished`);
      }
      return new Promise<DecodeOutcome>((resolve, reject) => {
        const job = this.#createJob(run, resolve, reject);
        this.#waiting.push(job);
        void this.#drive();
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Refuses new requests and fails waiting ones; running ones finish. */
  close(): void {
    this.#closed = true;
    for (const job of this.#waiting.splice(0)) job.reject(new EngineError('internal', 'the decoder was released'));
    if (!this.#driving) this.#disposeBatch();
  }

  #createJob(run: GenerationJob, resolve: (outcome: DecodeOutcome) => void, reject: (error: unknown) => void): Job {
    const { params, tokenizer } = run;
    const config = this.#session.config;
    const plan = planContext({
      memoryIds: run.memory ? tokenizer.encode(run.memory) : [],
      promptIds: tokenizer.encode(run.prompt),
      nPositions: config.nPositions,
      maxNewTokens: params.maxNewTokens,
      maxLength: params.maxLength,
      bosTokenId: config.bosTokenId,
    });
    const laneCount = params.doSample ? params.numReturnSequences : 1;
    const length = plan.inputIds.length;
    const reserved = laneCount * Math.min(config.nPositions, length + plan.maxNewTokens) * this.#bytesPerPosition;
    const job: Job = { run, plan, lanes: [], reservedKvBytes: reserved, resolve, reject, prefillMs: 0, decodeStart: 0, settled: false };
    for (let i = 0; i < laneCount; i++) {
      const lane = new Lane({
        sequences: params.doSample ? [i] : Array.from({ length: params.numReturnSequences }, (_, s) => s),
        chooser: new TokenChooser(params, sequenceRng(run.seed, (run.firstSequence ?? 0) + i), plan.inputIds),
        tokenBytes: (id) => tokenizer.tokenBytes(id),
        stop: params.stop,
        eosTokenId: tokenizer.eosTokenId,
        maxNewTokens: plan.maxNewTokens,
        nPositions: config.nPositions,
        topLogprobs: run.topLogprobs ?? 0,
        onDelta: run.onDelta,
      });
      job.lanes.push({ job, lane, id: null, length, pending: -1 });
    }
    return job;
  }

  #reservedKvBytes(): number {
    return this.#running.reduce((n, job) => n + job.reservedKvBytes, 0);
  }

  #runningRows(): number {
    return this.#batch?.rows.length ?? 0;
  }

  /** The loop: admit, cancel, step, until nothing runs or waits. Only one instance runs at a time. */
  async #drive(): Promise<void> {
    if (this.#driving) return;
    this.#driving = true;
    try {
      while (this.#waiting.length > 0 || this.#running.length > 0) {
        await this.#admit();
        this.#cancelAborted();
        if (this.#runningRows() > 0) await this.#step();
      }
    } catch (error) {
      // A bug in the loop itself (the decoder's failures are handled per step): fail everything, never hang.
      const failure = asStepError(error, 'the decode loop');
      for (const job of [...this.#running, ...this.#waiting.splice(0)]) {
        job.settled = true;
        job.reject(failure);
      }
      this.#running = [];
      this.#disposeBatch();
    } finally {
      this.#driving = false;
      if (this.#closed) this.#disposeBatch();
    }
  }

  /** Prefills waiting requests, in arrival order, while they fit. */
  async #admit(): Promise<void> {
    for (;;) {
      const job = this.#waiting[0];
      if (!job) return;
      if (job.run.signal?.aborted) {
        this.#waiting.shift();
        this.#announce(job);
        for (const row of job.lanes) this.#finish(row, 'cancelled');
        this.#settle(job);
        continue;
      }
      const empty = this.#runningRows() === 0;
      const fits = this.#runningRows() + job.lanes.length <= this.#limits.maxRows
        && this.#reservedKvBytes() + job.reservedKvBytes <= this.#limits.maxKvBytes;
      if (!fits && !empty) return;
      this.#waiting.shift();
      await this.#start(job);
    }
  }

  #announce(job: Job): void {
    const { run, plan } = job;
    run.onStart?.({
      device: this.#session.device.used,
      seed: run.seed,
      promptTokens: plan.inputIds.length,
      truncatedPromptTokens: plan.truncatedPromptTokens,
      numSequences: run.params.numReturnSequences,
    });
  }

  /** Prefills one request and makes its lanes rows of the batch. */
  async #start(job: Job): Promise<void> {
    this.#announce(job);
    const batch = (this.#batch ??= this.#session.createBatch());
    const prefillStart = performance.now();
    let prefill: { rows: number[]; out: RowLogits };
    try {
      prefill = await batch.prefill(job.plan.inputIds, job.lanes.length);
    } catch (error) {
      job.settled = true;
      job.reject(asStepError(error, `prefill (${job.plan.inputIds.length} tokens)`));
      return;
    }
    job.decodeStart = performance.now();
    job.prefillMs = job.decodeStart - prefillStart;
    this.#running.push(job);
    const vocab = this.#session.config.vocabSize;
    job.lanes.forEach((row, i) => {
      row.id = prefill.rows[i] as number;
      this.#choose(row, prefill.out.logits.subarray(0, vocab), prefill.out.logSumExp[0] as number);
    });
    this.#settleIfDone(job);
  }

  /** Ends the running lanes of requests whose signal fired ('cancelled', text so far kept). */
  #cancelAborted(): void {
    for (const job of this.#running.slice()) {
      if (!job.run.signal?.aborted) continue;
      for (const row of job.lanes) if (row.lane.finishReason === null) this.#finish(row, 'cancelled');
      this.#settleIfDone(job);
    }
  }

  /** One token for every row. A failed step fails every running request (the batch is rebuilt). */
  async #step(): Promise<void> {
    const batch = this.#batch as DecoderBatch;
    const byId = new Map<number, Row>();
    for (const job of this.#running) for (const row of job.lanes) if (row.id !== null) byId.set(row.id, row);
    const rows = [...batch.rows];
    let out: RowLogits;
    try {
      out = await batch.decode(rows, rows.map((id) => (byId.get(id) as Row).pending));
    } catch (error) {
      const failure = asStepError(error, `decoder step (batch ${rows.length}, 1 tokens)`);
      for (const job of this.#running) {
        job.settled = true;
        job.reject(failure);
      }
      this.#running = [];
      this.#disposeBatch();
      return;
    }
    this.#steps++;
    this.#rowSteps += rows.length;
    const vocab = this.#session.config.vocabSize;
    rows.forEach((id, i) => {
      const row = byId.get(id) as Row;
      row.length++;
      this.#choose(row, out.logits.subarray(i * vocab, (i + 1) * vocab), out.logSumExp[i] as number);
    });
    for (const job of this.#running.slice()) this.#settleIfDone(job);
  }

  /** Chooses a lane's next token from its raw logits (left unchanged); a lane that ends leaves the batch. */
  #choose(row: Row, raw: Float32Array, logSumExp: number): void {
    const scores = this.#scratch;
    scores.set(raw);
    const token = row.lane.chooser.choose(scores);
    if (row.lane.take(token, raw, logSumExp, row.length)) row.pending = token;
    else this.#leave(row);
  }

  /** Ends a lane and frees its row. */
  #finish(row: Row, reason: FinishReason): void {
    row.lane.finish(reason);
    this.#leave(row);
  }

  #leave(row: Row): void {
    if (row.id === null) return;
    this.#batch?.remove([row.id]);
    row.id = null;
  }

  #settleIfDone(job: Job): void {
    if (job.lanes.every((row) => row.lane.finishReason !== null)) this.#settle(job);
  }

  #settle(job: Job): void {
    if (job.settled) return;
    job.settled = true;
    this.#running = this.#running.filter((j) => j !== job);
    const decodeMs = job.decodeStart > 0 ? performance.now() - job.decodeStart : 0;
    const sequences = new Array<GeneratedSequence>(job.run.params.numReturnSequences);
    let newTokens = 0;
    for (const { lane } of job.lanes) {
      newTokens += lane.tokenIds.length;
      for (const s of lane.sequences) sequences[s] = lane.result();
    }
    job.resolve({
      promptTokens: job.plan.inputIds.length,
      truncatedPromptTokens: job.plan.truncatedPromptTokens,
      sequences,
      prefillMs: job.prefillMs,
      decodeMs,
      tokensPerSecond: decodeMs > 0 ? (newTokens * 1000) / decodeMs : 0,
    });
  }

  #disposeBatch(): void {
    this.#batch?.dispose();
    this.#batch = null;
  }
}

/** A decoder failure as an EngineError naming the step (typed errors pass through). */
function asStepError(error: unknown, what: string): EngineError {
  if (error instanceof EngineError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new EngineError('internal', `${what} failed: ${message}`, { cause: error });
}
