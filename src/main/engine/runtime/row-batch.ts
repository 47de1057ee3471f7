/**
 * Rows of different prompts decoded together (continuous batching) on the decoder's 'rows' graph
 * (onnx/gpt2.ts), with the KV cache kept here, in JavaScript memory, at a fixed capacity.
 *
 * Why the cache lives here: onnxruntime-node hands every output back as a fresh ArrayBuffer, so a
 * graph that returns the grown cache each step makes the binding copy all of it into new memory
 * (page faults, then garbage collection) on top of the attention kernel's own copy. The 'rows'
 * graph reads the cache as an input (wrapped, not copied) and returns only the new positions'
 * keys and values, which are written into place here: per step that is 2·layers·d floats a row
 * instead of the whole cache.
 *
 * Each row's cache starts at position 0 and holds its own number of positions; the graph's
 * attention masks out everything else, so a row's logits are bitwise the same whatever else is in
 * the batch (test/main/engine/runtime/row-batch.test.ts checks that).
 */
import { Tensor } from 'onnxruntime-node';
import { EngineError } from '../types';
import { RowBook } from './row-book';

/** Logits of some positions and the log-sum-exp of each (logits − logSumExp is the log-softmax). */
export interface RowLogits {
  /** [n × vocab], row-major. */
  readonly logits: Float32Array;
  /** [n] */
  readonly logSumExp: Float32Array;
}

/** A batch of rows with their own lengths, decoded one token per row per step. */
export interface DecoderBatch {
  /** Row ids in batch order. */
  readonly rows: readonly number[];
  /** Cache positions held by `row`. */
  lengthOf(row: number): number;
  /** Bytes the batch's cache holds now (its allocated capacity). */
  readonly kvBytes: number;
  /**
   * Prefills `tokens` alone (batch 1, so the result never depends on the batch) and adds `copies`
   * rows holding that prefix. Resolves to the new rows' ids and the last position's logits (n = 1).
   */
  prefill(tokens: readonly number[], copies: number): Promise<{ rows: number[]; out: RowLogits }>;
  /** Feeds one token to every row (`rows` names each row once, in any order); logits in `rows` order. */
  decode(rows: readonly number[], tokens: readonly number[]): Promise<RowLogits>;
  /** Feeds several tokens to one row (drafted tokens to verify); logits after each of them. */
  extend(row: number, tokens: readonly number[]): Promise<RowLogits>;
  /** Forgets the positions of `row` from `length` on (rejected drafted tokens). */
  truncate(row: number, length: number): void;
  /** Removes finished rows. */
  remove(rows: readonly number[]): void;
  /** Frees the cache; the batch must not be used afterwards. */
  dispose(): void;
}

/** Sizes of the 'rows' graph that a batch needs. */
export interface RowsShape {
  readonly nLayer: number;
  readonly nHead: number;
  /** Head size of the cache (rounded up to a multiple of 8 by the graph). */
  readonly cacheHeadDim: number;
  readonly vocabSize: number;
  /** The context window: no row may hold more positions. */
  readonly nPositions: number;
}

/** One run of the 'rows' graph. */
export interface RowsRunInput {
  readonly batch: number;
  readonly seqLen: number;
  readonly inputIds: readonly number[];
  readonly positionIds: readonly number[];
  /** Per row: its total length after this step, minus 1. */
  readonly seqlensK: readonly number[];
  readonly totalLength: number;
  readonly logitsCount: number;
  /** key 0, value 0, key 1, … [batch, heads, capacity, cacheHeadDim] */
  readonly past: readonly Tensor[];
}

/** What one run returns: logits of the last `logitsCount` positions and the new keys and values. */
export interface RowsRunOutput extends RowLogits {
  /** Per layer: [batch, seqLen, 2·heads·cacheHeadDim], keys first. */
  readonly newKv: readonly Float32Array[];
}

/** Runs the 'rows' graph; provided by the session that owns it. */
export type RowsRunner = (input: RowsRunInput) => Promise<RowsRunOutput>;

/**
 * Capacity steps. Attention scores every row's whole capacity (the slack masked out), so slack
 * costs reading it on every step; growing costs one copy of the cache. Growing by max(32,
 * length/8) positions balances the two: at 128 positions the slack is at most 32 and the cache
 * is copied once every 32 steps.
 */
const CAPACITY_QUANTUM = 32;

/**
 * Prompt positions a prefill run takes at once. Attention's scores of a run are heads × chunk ×
 * (cache + chunk) floats, several times over inside the graph, and onnxruntime's arena keeps its
 * largest step until the model unloads: a 1024-token GPT-2 Large prompt in one run would leave
 * hundreds of MB there, in 256-token chunks about a quarter of that. Matrix products of 256 rows
 * still run at full speed.
 */
export const PREFILL_CHUNK = 256;

/** DecoderBatch with the cache in JavaScript memory (see the file comment). */
export class HostRowBatch implements DecoderBatch {
  readonly #book = new RowBook();
  readonly #shape: RowsShape;
  readonly #run: RowsRunner;
  readonly #prefillChunk: number;
  /** key 0, value 0, key 1, …, each [rowCapacity, heads, capacity, cacheHeadDim]. */
  #buffers: Float32Array[] = [];
  #rowCapacity = 0;
  #capacity = 0;
  #disposed = false;
  /** A step is running: the batch takes one call at a time (a step writes into the buffers when it ends). */
  #busy = false;

  /** `prefillChunk`: prompt positions per prefill run (PREFILL_CHUNK; tests use small ones). */
  constructor(shape: RowsShape, run: RowsRunner, prefillChunk = PREFILL_CHUNK) {
    this.#shape = shape;
    this.#run = run;
    this.#prefillChunk = prefillChunk;
  }

  get rows(): readonly number[] {
    return this.#book.rows;
  }

  lengthOf(row: number): number {
    return this.#book.lengthOf(row);
  }

  get kvBytes(): number {
    return this.#buffers.reduce((sum, b) => sum + b.byteLength, 0);
  }

  async prefill(tokens: readonly number[], copies: number): Promise<{ rows: number[]; out: RowLogits }> {
    this.#check();
    if (tokens.length === 0) throw new EngineError('internal', 'prefill needs at least one token');
    if (!Number.isInteger(copies) || copies < 1) throw new EngineError('internal', `prefill: copies ${copies} must be a positive integer`);
    this.#checkLength(tokens.length);
    return this.#exclusive(async () => {
      // The prompt goes in chunks into the free slot after the last row, which joins the book only
      // when every chunk has run (a failed prefill leaves the batch as it was).
      this.#reserve(this.#book.size + copies, tokens.length);
      const first = this.#book.size;
      let out: RowsRunOutput | undefined;
      for (let start = 0; start < tokens.length; start += this.#prefillChunk) {
        const chunk = tokens.slice(start, start + this.#prefillChunk);
        out = await this.#run({
          batch: 1, seqLen: chunk.length, inputIds: chunk, positionIds: chunk.map((_, i) => start + i),
          seqlensK: [start + chunk.length - 1], totalLength: start + chunk.length, logitsCount: 1,
          past: start === 0 ? this.#emptyPast() : this.#pastTensors(first, 1),
        });
        this.#checkAfterRun();
        this.#writeNew(out.newKv, [first], chunk.length, [start]);
      }
      const rows = this.#book.add(copies, tokens.length);
      for (let c = 1; c < copies; c++) this.#copySlot(first, first + c, tokens.length);
      const last = out as RowsRunOutput;
      return { rows, out: { logits: last.logits, logSumExp: last.logSumExp } };
    });
  }

  async decode(rows: readonly number[], tokens: readonly number[]): Promise<RowLogits> {
    this.#check();
    const slots = this.#book.slotsOfAll(rows);
    if (tokens.length !== rows.length) throw new EngineError('internal', `decode: ${tokens.length} tokens for ${rows.length} rows`);
    for (const row of rows) this.#checkLength(this.#book.lengthOf(row) + 1);
    return this.#exclusive(async () => {
      const batch = rows.length;
      this.#reserve(batch, this.#book.maxLength() + 1);
      // Feed in slot order (the buffers' order); hand the logits back in the caller's order.
      const bySlot = new Array<number>(batch);
      slots.forEach((slot, i) => (bySlot[slot] = tokens[i] as number));
      const lengths = this.#book.rows.map((row) => this.#book.lengthOf(row));
      const out = await this.#run({
        batch, seqLen: 1, inputIds: bySlot, positionIds: lengths, seqlensK: lengths,
        totalLength: Math.max(...lengths) + 1, logitsCount: 1, past: this.#pastTensors(0, batch),
      });
      this.#checkAfterRun();
      this.#writeNew(out.newKv, this.#book.rows.map((_, slot) => slot), 1, lengths);
      for (const row of this.#book.rows) this.#book.setLength(row, this.#book.lengthOf(row) + 1);
      return reorder(out, slots, this.#shape.vocabSize);
    });
  }

  async extend(row: number, tokens: readonly number[]): Promise<RowLogits> {
    this.#check();
    if (tokens.length === 0) throw new EngineError('internal', 'extend needs at least one token');
    const length = this.#book.lengthOf(row);
    this.#checkLength(length + tokens.length);
    return this.#exclusive(async () => {
      this.#reserve(this.#book.size, length + tokens.length);
      const slot = this.#book.slotOf(row);
      const out = await this.#run({
        batch: 1, seqLen: tokens.length, inputIds: tokens, positionIds: tokens.map((_, i) => length + i),
        seqlensK: [length + tokens.length - 1], totalLength: length + tokens.length, logitsCount: tokens.length,
        past: this.#pastTensors(slot, 1),
      });
      this.#checkAfterRun();
      this.#writeNew(out.newKv, [slot], tokens.length, [length]);
      this.#book.setLength(row, length + tokens.length);
      return { logits: out.logits, logSumExp: out.logSumExp };
    });
  }

  truncate(row: number, length: number): void {
    this.#check();
    const current = this.#book.lengthOf(row);
    if (!Number.isInteger(length) || length < 1 || length > current) {
      throw new EngineError('internal', `truncate: row ${row} holds ${current} positions; cannot keep ${length}`);
    }
    // Positions past a row's length are never read, so nothing needs clearing.
    this.#book.setLength(row, length);
  }

  remove(rows: readonly number[]): void {
    this.#check();
    for (const move of this.#book.remove(rows)) this.#copySlot(move.from, move.to, move.length);
    if (this.#book.size === 0) this.#release();
    // Most rows gone: give the memory back (the cache of a full batch can be gigabytes).
    else if (this.#book.size <= this.#rowCapacity / 4) this.#shrink();
  }

  dispose(): void {
    this.#disposed = true;
    this.#release();
  }

  #check(): void {
    if (this.#disposed) throw new EngineError('internal', 'batch used after dispose()');
    if (this.#busy) throw new EngineError('internal', 'batch used while a step is running: await each call');
  }

  #checkLength(length: number): void {
    if (length > this.#shape.nPositions) {
      throw new EngineError('bad_input', `a row of ${length} positions exceeds the context window of ${this.#shape.nPositions}`);
    }
  }

  /** Runs one step; the batch refuses other calls until it ends, and a batch disposed meanwhile takes no writes. */
  async #exclusive<T>(task: () => Promise<T>): Promise<T> {
    this.#busy = true;
    try {
      return await task();
    } finally {
      this.#busy = false;
    }
  }

  /** Throws unless the graph's output may be written back (the batch was not disposed during the run). */
  #checkAfterRun(): void {
    if (this.#disposed) throw new EngineError('cancelled', 'the batch was disposed while a step was running');
  }

  #release(): void {
    this.#buffers = [];
    this.#rowCapacity = 0;
    this.#capacity = 0;
  }

  /** Makes room for `rows` rows of `length` positions, keeping every row's data. */
  #reserve(rows: number, length: number): void {
    if (rows <= this.#rowCapacity && length <= this.#capacity) return;
    // Rows join one at a time: a quarter more room than needed spares a copy per join without
    // holding much more than is used (a GPT-2 Large row of 1024 positions is 377 MB).
    const rowCapacity = this.#rowCapacity >= rows ? this.#rowCapacity : rows + Math.floor(rows / 4);
    const grown = length + Math.max(CAPACITY_QUANTUM, Math.floor(length / 8));
    const capacity = this.#capacity >= length ? this.#capacity : Math.min(this.#shape.nPositions, Math.ceil(grown / CAPACITY_QUANTUM) * CAPACITY_QUANTUM);
    this.#relayout(rowCapacity, capacity);
  }

  /** Reallocates for the rows still held, at the same capacity. */
  #shrink(): void {
    const rows = this.#book.size;
    this.#relayout(rows + Math.floor(rows / 4), this.#capacity);
  }

  /** Moves every row into new buffers of `rowCapacity` rows of `capacity` positions. */
  #relayout(rowCapacity: number, capacity: number): void {
    const { nLayer, nHead, cacheHeadDim } = this.#shape;
    const old = this.#buffers;
    const oldCapacity = this.#capacity;
    this.#buffers = Array.from({ length: 2 * nLayer }, () => new Float32Array(rowCapacity * nHead * capacity * cacheHeadDim));
    for (const [slot, row] of this.#book.rows.entries()) {
      const valid = this.#book.lengthOf(row) * cacheHeadDim;
      for (let t = 0; t < old.length; t++) {
        const from = old[t] as Float32Array;
        const to = this.#buffers[t] as Float32Array;
        for (let h = 0; h < nHead; h++) {
          const src = (slot * nHead + h) * oldCapacity * cacheHeadDim;
          to.set(from.subarray(src, src + valid), (slot * nHead + h) * capacity * cacheHeadDim);
        }
      }
    }
    this.#rowCapacity = rowCapacity;
    this.#capacity = capacity;
  }

  /** A cache of no positions, for a prompt's first chunk. */
  #emptyPast(): Tensor[] {
    const { nLayer, nHead, cacheHeadDim } = this.#shape;
    return Array.from({ length: 2 * nLayer }, () => new Tensor('float32', new Float32Array(0), [1, nHead, 0, cacheHeadDim]));
  }

  /** The cache of slots [first, first + count) as graph inputs (views, not copies). */
  #pastTensors(first: number, count: number): Tensor[] {
    const { nHead, cacheHeadDim } = this.#shape;
    const rowSize = nHead * this.#capacity * cacheHeadDim;
    return this.#buffers.map((b) => new Tensor('float32', b.subarray(first * rowSize, (first + count) * rowSize), [count, nHead, this.#capacity, cacheHeadDim]));
  }

  /** Writes the new keys and values of each batch row b (seqLen positions) into slot slots[b] from position starts[b]. */
  #writeNew(newKv: readonly Float32Array[], slots: readonly number[], seqLen: number, starts: readonly number[]): void {
    const { nHead, cacheHeadDim: dh } = this.#shape;
    const width = nHead * dh;
    const capacity = this.#capacity;
    newKv.forEach((kv, layer) => {
      const keys = this.#buffers[2 * layer] as Float32Array;
      const values = this.#buffers[2 * layer + 1] as Float32Array;
      slots.forEach((slot, b) => {
        const start = starts[b] as number;
        for (let s = 0; s < seqLen; s++) {
          const src = (b * seqLen + s) * 2 * width;
          for (let h = 0; h < nHead; h++) {
            const dst = ((slot * nHead + h) * capacity + start + s) * dh;
            keys.set(kv.subarray(src + h * dh, src + (h + 1) * dh), dst);
            values.set(kv.subarray(src + width + h * dh, src + width + (h + 1) * dh), dst);
          }
        }
      });
    });
  }

  /** Copies the first `length` positions of slot `from` into slot `to`. */
  #copySlot(from: number, to: number, length: number): void {
    const { nHead, cacheHeadDim } = this.#shape;
    const valid = length * cacheHeadDim;
    for (const buffer of this.#buffers) {
      for (let h = 0; h < nHead; h++) {
        const src = (from * nHead + h) * this.#capacity * cacheHeadDim;
        buffer.copyWithin((to * nHead + h) * this.#capacity * cacheHeadDim, src, src + valid);
      }
    }
  }
}

/** Logits and log-sum-exps of a slot-ordered run, in the caller's row order (no copy when the orders agree). */
function reorder(out: RowLogits, slots: readonly number[], vocab: number): RowLogits {
  if (slots.every((slot, i) => slot === i)) return { logits: out.logits, logSumExp: out.logSumExp };
  const logits = new Float32Array(out.logits.length);
  const logSumExp = new Float32Array(out.logSumExp.length);
  slots.forEach((slot, i) => {
    logits.set(out.logits.subarray(slot * vocab, (slot + 1) * vocab), i * vocab);
    logSumExp[i] = out.logSumExp[slot] as number;
  });
  return { logits, logSumExp };
}
