/**
 * Logits processors with Hugging Face semantics, applied in place to one
 * vocabulary-sized row. Order (HF `_get_logits_processor`): repetition penalty,
 * no-repeat n-gram, then the sampling warpers (temperature, top-k, top-p).
 */

/**
 * HF RepetitionPenaltyLogitsProcessor: for every distinct token already in the
 * sequence (prompt included), a negative logit is multiplied by `penalty`, any
 * other is divided by it. Applied once per token, however often it occurred.
 */
export function applyRepetitionPenalty(row: Float32Array, seenTokens: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const token of seenTokens) {
    const score = row[token];
    if (score === undefined) continue;
    row[token] = score < 0 ? score * penalty : score / penalty;
  }
}

/** Sets the logits of `tokens` to -Infinity. */
export function banTokens(row: Float32Array, tokens: Iterable<number>): void {
  for (const token of tokens) {
    if (token >= 0 && token < row.length) row[token] = Number.NEGATIVE_INFINITY;
  }
}

/** HF TemperatureLogitsWarper: divides every logit by `temperature`. */
export function applyTemperature(row: Float32Array, temperature: number): void {
  if (temperature === 1) return;
  for (let i = 0; i < row.length; i++) row[i] = (row[i] as number) / temperature;
}

/**
 * HF NoRepeatNGramLogitsProcessor, kept incrementally: remembers every n-gram
 * of the sequence so far and names the tokens that would complete one again.
 */
export class NgramBlocker {
  readonly #size: number;
  readonly #tokens: number[] = [];
  /** Key: the first n-1 tokens of an n-gram; value: the tokens seen after them. */
  readonly #followers = new Map<string, Set<number>>();

  /** `size` ≥ 1 is the n of the n-gram; the sequence so far is fed through `push`. */
  constructor(size: number) {
    this.#size = size;
  }

  /** Appends one token of the sequence (prompt tokens first, then each generated token). */
  push(token: number): void {
    this.#tokens.push(token);
    const n = this.#size;
    const length = this.#tokens.length;
    if (length < n) return;
    const key = this.#tokens.slice(length - n, length - 1).join(',');
    let followers = this.#followers.get(key);
    if (!followers) {
      followers = new Set();
      this.#followers.set(key, followers);
    }
    followers.add(token);
  }

  /** An independent copy with the same history. */
  clone(): NgramBlocker {
    const copy = new NgramBlocker(this.#size);
    copy.#tokens.push(...this.#tokens);
    for (const [key, followers] of this.#followers) copy.#followers.set(key, new Set(followers));
    return copy;
  }

  /** Tokens that, appended now, would repeat an n-gram already in the sequence. */
  bannedNext(): Iterable<number> {
    const n = this.#size;
    const length = this.#tokens.length;
    // HF: nothing is banned until the sequence holds n-1 tokens (cur_len + 1 < n).
    if (length + 1 < n) return [];
    const key = this.#tokens.slice(length - (n - 1), length).join(',');
    return this.#followers.get(key) ?? [];
  }
}
