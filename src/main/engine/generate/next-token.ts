/**
 * One sequence's token choice: its history (for the repetition penalty and
 * the n-gram block), its random stream, and the processors in HF's order.
 */
import { applyRepetitionPenalty, applyTemperature, banTokens, NgramBlocker } from './logits-processors';
import type { Rng } from './rng';
import { argmax, sampleToken, tokenDistribution, type TokenDistribution } from './sampling';

/** The parts of GenerationParams that shape one token choice. */
export interface TokenChoiceSettings {
  doSample: boolean;
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** 1 = off. */
  topP: number;
  /** 1 = off. */
  repetitionPenalty: number;
  /** 0 = off. */
  noRepeatNgramSize: number;
}

/** Picks the tokens of one sequence, step after step. */
export class TokenChooser {
  readonly #settings: TokenChoiceSettings;
  readonly #rng: Rng;
  readonly #seen = new Set<number>();
  readonly #ngrams: NgramBlocker | null;

  /** `context` is the prompt (memory included) the sequence continues. */
  constructor(settings: TokenChoiceSettings, rng: Rng, context: readonly number[], ngrams?: NgramBlocker | null, seen?: Iterable<number>) {
    this.#settings = settings;
    this.#rng = rng;
    this.#ngrams = ngrams !== undefined ? ngrams : settings.noRepeatNgramSize > 0 ? new NgramBlocker(settings.noRepeatNgramSize) : null;
    if (seen) for (const token of seen) this.#seen.add(token);
    for (const token of context) this.#record(token);
  }

  /** An independent copy with the same settings and history that draws from `rng`. */
  fork(rng: Rng): TokenChooser {
    return new TokenChooser(this.#settings, rng, [], this.#ngrams?.clone() ?? null, this.#seen);
  }

  /**
   * The distribution the next choice draws from: the processors applied to `row` (in place),
   * then top-k and top-p; greedy decoding puts all mass on the argmax. Records nothing. Null when
   * every token is banned.
   */
  distribution(row: Float32Array): TokenDistribution | null {
    const s = this.#settings;
    this.#process(row);
    if (s.doSample) return tokenDistribution(row, s);
    const best = argmax(row);
    return best < 0 ? null : { ids: [best], probs: Float64Array.of(1) };
  }

  /** Records `token` as the sequence's next token (for the repetition penalty and the n-gram ban). */
  record(token: number): void {
    this.#record(token);
  }

  /**
   * Chooses the next token from `row` (modified in place) and records it.
   * Returns -1 when every token was banned (no finite logit left).
   */
  choose(row: Float32Array): number {
    const s = this.#settings;
    this.#process(row);
    const token = s.doSample ? sampleToken(row, s, this.#rng) : argmax(row);
    if (token >= 0) this.#record(token);
    return token;
  }

  /** The logits processors, in HF's order, in place (temperature only when sampling). */
  #process(row: Float32Array): void {
    const s = this.#settings;
    applyRepetitionPenalty(row, this.#seen, s.repetitionPenalty);
    if (this.#ngrams) banTokens(row, this.#ngrams.bannedNext());
    if (s.doSample) applyTemperature(row, s.temperature);
  }

  #record(token: number): void {
    if (this.#settings.repetitionPenalty !== 1) this.#seen.add(token);
    this.#ngrams?.push(token);
  }
}
