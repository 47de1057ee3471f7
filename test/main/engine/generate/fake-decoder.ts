/**
 * A scripted DecoderSession for loop tests: logits are a function of each
 * row's whole token sequence, and the fake checks every StepInput (shapes,
 * positions, masks, cache batch) and every batch call, and counts live KV
 * caches and batches.
 */
import type { DecoderBatch, DecoderSession, KvCache, RowLogits, StepInput, StepOutput } from '../../../../src/main/engine/runtime';
import { RowBook } from '../../../../src/main/engine/runtime/row-book';
import type { Gpt2Tokenizer } from '../../../../src/main/engine/tokenizer';
import type { DeviceName, Gpt2Config } from '../../../../src/main/engine/types';

/** Next-token logits for a row whose tokens so far are `sequence`. */
export type Script = (sequence: readonly number[]) => Float32Array;

class FakeCache implements KvCache {
  disposed = false;
  constructor(readonly owner: FakeDecoder, readonly rows: readonly (readonly number[])[]) {
    owner.liveCaches++;
  }
  get batch(): number {
    return this.rows.length;
  }
  get length(): number {
    return this.rows[0]?.length ?? 0;
  }
  select(rows: readonly number[]): KvCache {
    if (this.disposed) throw new Error('select on a disposed cache');
    return new FakeCache(this.owner, rows.map((r) => {
      const row = this.rows[r];
      if (!row) throw new Error(`select: row ${r} out of range`);
      return row.slice();
    }));
  }
  dispose(): void {
    if (this.disposed) throw new Error('cache disposed twice');
    this.disposed = true;
    this.owner.liveCaches--;
  }
}

/** Records of what the loop asked for (for a batch call: its rows, new tokens per row, and the longest row's past). */
export interface StepRecord {
  batch: number;
  seqLen: number;
  pastLength: number;
}

/** log Σ exp(row) in float64. */
export function logSumExp64(row: ArrayLike<number>): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i] as number);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp((row[i] as number) - max);
  return max + Math.log(sum);
}

/** A batch whose rows are plain token lists; logits come from the decoder's script. */
class FakeBatch implements DecoderBatch {
  readonly #book = new RowBook();
  readonly #tokens = new Map<number, number[]>();
  #disposed = false;
  #busy = false;

  constructor(private readonly owner: FakeDecoder) {
    owner.liveBatches++;
  }

  get rows(): readonly number[] {
    return this.#book.rows;
  }

  lengthOf(row: number): number {
    return this.#book.lengthOf(row);
  }

  get kvBytes(): number {
    return [...this.#tokens.values()].reduce((n, t) => n + t.length, 0);
  }

  async prefill(tokens: readonly number[], copies: number): Promise<{ rows: number[]; out: RowLogits }> {
    const out = await this.#run([tokens], { batch: 1, seqLen: tokens.length, pastLength: 0 });
    const rows = this.#book.add(copies, tokens.length);
    for (const row of rows) this.#tokens.set(row, [...tokens]);
    return { rows, out };
  }

  async decode(rows: readonly number[], tokens: readonly number[]): Promise<RowLogits> {
    this.#book.slotsOfAll(rows);
    if (tokens.length !== rows.length) throw new Error('decode: one token per row');
    const sequences = rows.map((row, i) => [...(this.#tokens.get(row) as number[]), tokens[i] as number]);
    const out = await this.#run(sequences, { batch: rows.length, seqLen: 1, pastLength: Math.max(...rows.map((r) => this.#book.lengthOf(r))) });
    rows.forEach((row, i) => {
      this.#tokens.set(row, sequences[i] as number[]);
      this.#book.setLength(row, (sequences[i] as number[]).length);
    });
    return out;
  }

  async extend(row: number, tokens: readonly number[]): Promise<RowLogits> {
    const before = this.#tokens.get(row) as number[];
    this.#book.lengthOf(row);
    const prefixes = tokens.map((_, i) => [...before, ...tokens.slice(0, i + 1)]);
    const out = await this.#run(prefixes, { batch: 1, seqLen: tokens.length, pastLength: before.length });
    this.#tokens.set(row, prefixes[prefixes.length - 1] as number[]);
    this.#book.setLength(row, before.length + tokens.length);
    return out;
  }

  truncate(row: number, length: number): void {
    this.#check();
    this.#book.setLength(row, length);
    this.#tokens.set(row, (this.#tokens.get(row) as number[]).slice(0, length));
  }

  remove(rows: readonly number[]): void {
    this.#check();
    this.#book.remove(rows);
    for (const row of rows) this.#tokens.delete(row);
  }

  dispose(): void {
    if (this.#disposed) throw new Error('batch disposed twice');
    this.#disposed = true;
    this.owner.liveBatches--;
  }

  #check(): void {
    if (this.#disposed) throw new Error('batch used after dispose');
    if (this.#busy) throw new Error('batch used while a step is running');
  }

  /** Logits after each of `sequences` (each a whole row so far); records the step as `record`. */
  async #run(sequences: readonly (readonly number[])[], record: StepRecord): Promise<RowLogits> {
    this.#check();
    this.#busy = true;
    try {
      await Promise.resolve();
      if (this.owner.steps.length === this.owner.failAt) throw new Error('scripted failure');
      const { vocabSize, nPositions } = this.owner.config;
      for (const s of sequences) if (s.length > nPositions) throw new Error(`a row of ${s.length} positions is beyond the window`);
      this.owner.steps.push(record);
      const logits = new Float32Array(sequences.length * vocabSize);
      const logSumExp = new Float32Array(sequences.length);
      sequences.forEach((s, i) => {
        const row = this.owner.script(s);
        logits.set(row, i * vocabSize);
        logSumExp[i] = logSumExp64(row);
      });
      return { logits, logSumExp };
    } finally {
      this.#busy = false;
    }
  }
}

/** A DecoderSession whose logits come from a script; records every step. */
export class FakeDecoder implements DecoderSession {
  readonly device: DecoderSession['device'];
  readonly config: Gpt2Config;
  readonly steps: StepRecord[] = [];
  liveCaches = 0;
  liveBatches = 0;
  /** Throw on this step index (0 = prefill), to test error paths. */
  failAt = -1;

  constructor(readonly script: Script, opts: { vocabSize: number; nPositions: number; eosTokenId: number; device?: DeviceName }) {
    this.device = { requested: 'auto', used: opts.device ?? 'cpu' };
    this.config = {
      modelType: 'gpt2', nLayer: 1, nEmbd: 8, nHead: 2, nPositions: opts.nPositions, vocabSize: opts.vocabSize,
      layerNormEpsilon: 1e-5, bosTokenId: opts.eosTokenId, eosTokenId: opts.eosTokenId,
    };
  }

  createBatch(): DecoderBatch {
    return new FakeBatch(this);
  }

  async step(input: StepInput): Promise<StepOutput> {
    await Promise.resolve();
    const past = input.past as FakeCache | null;
    const pastLength = past?.length ?? 0;
    if (this.steps.length === this.failAt) throw new Error('scripted failure');
    this.steps.push({ batch: input.batch, seqLen: input.seqLen, pastLength });
    if (past && past.disposed) throw new Error('step on a disposed cache');
    if (past && past.batch !== input.batch) throw new Error(`past batch ${past.batch} != batch ${input.batch}`);
    if (input.inputIds.length !== input.batch * input.seqLen) throw new Error('inputIds length');
    if (input.attentionMask.length !== input.batch * (pastLength + input.seqLen)) throw new Error('attentionMask length');
    if (input.attentionMask.some((m) => m !== 1)) throw new Error('unexpected padding in attentionMask');
    if (input.positionIds.length !== input.batch * input.seqLen) throw new Error('positionIds length');
    for (let b = 0; b < input.batch; b++) {
      for (let t = 0; t < input.seqLen; t++) {
        const position = input.positionIds[b * input.seqLen + t] as number;
        if (position !== pastLength + t) throw new Error(`position ${position} != ${pastLength + t}`);
        if (position >= this.config.nPositions) throw new Error(`position ${position} beyond the window`);
      }
    }
    const rows: number[][] = [];
    const logits = new Float32Array(input.batch * this.config.vocabSize);
    for (let b = 0; b < input.batch; b++) {
      const row = [...(past?.rows[b] ?? []), ...input.inputIds.slice(b * input.seqLen, (b + 1) * input.seqLen)];
      rows.push(row);
      logits.set(this.script(row), b * this.config.vocabSize);
    }
    return { logits, present: new FakeCache(this, rows) };
  }

  async logitsAll(): Promise<Float32Array> {
    throw new Error('not used');
  }

  async release(): Promise<void> {}
}

/** Size of the fake vocabulary: ids 0..25 are "a".."z", 26 is " ", 27..62 are "A".."Z" and digits, 63 is the end of text. */
export const FAKE_VOCAB = 64;
/** The fake end-of-text id. */
export const FAKE_EOS = 63;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A one-character-per-token tokenizer over the fake vocabulary. */
export const fakeTokenizer: Pick<Gpt2Tokenizer, 'encode' | 'tokenBytes' | 'eosTokenId' | 'decode'> = {
  eosTokenId: FAKE_EOS,
  encode: (text) => [...text].map((ch) => {
    const id = ALPHABET.indexOf(ch);
    if (id < 0) throw new Error(`fake tokenizer: no token for ${JSON.stringify(ch)}`);
    return id;
  }),
  decode: (ids) => ids.map((id) => ALPHABET[id] ?? '').join(''),
  tokenBytes: (id) => new TextEncoder().encode(ALPHABET[id] ?? ''),
};

/** Deterministic pseudo-random logits in [-3, 3) that depend on the whole sequence (FNV-1a + xorshift). */
export function hashedScript(vocab = FAKE_VOCAB, eosBias = -2): Script {
  return (sequence) => {
    let h = 0x811c9dc5;
    for (const t of sequence) h = Math.imul(h ^ (t + 1), 0x01000193) >>> 0;
    const row = new Float32Array(vocab);
    for (let v = 0; v < vocab; v++) {
      h ^= h << 13; h >>>= 0;
      h ^= h >>> 17;
      h ^= h << 5; h >>>= 0;
      row[v] = (h / 0x1_0000_0000) * 6 - 3;
    }
    row[vocab - 1] = (row[vocab - 1] as number) + eosBias;
    return row;
  };
}

/** Greedy script that spells `text` (fake vocabulary) after the prompt, then emits end of text. */
export function spellingScript(promptLength: number, text: string): Script {
  const ids = fakeTokenizer.encode(text);
  return (sequence) => {
    const row = new Float32Array(FAKE_VOCAB);
    row[ids[sequence.length - promptLength] ?? FAKE_EOS] = 10;
    return row;
  };
}
