/**
 * One sequence's token choice: its history (for the repetition penalty and
 * the n-gram block), its random stream, and the processors in HF's order.
 */
import { applyRepetitionPenalty, applyTemperature, banTokens, NgramBlocker } from './logits-processors';
import type { Rng } from './rng';
import { argmax, sampleToken } from './sampling';

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
  constructor(settings: TokenChoiceSettings, rng: Rng, context: readonly number[]) {
    this.#settings = settings;
    this.#rng = rng;
    this.#ngrams = settings.noRepeatNgramSize > 0 ? new NgramBlocker(settings.noRepeatNgramSize) : null;
    for (const token of context) this.#record(token);
  }

  /**
   * Chooses the next token from `row` (modified in place) and records it.
   * Returns -1 when every token was banned (no finite logit left).
   */
  choose(row: Float32Array): number {
    const s = this.#settings;
    applyRepetitionPenalty(row, this.#seen, s.repetitionPenalty);
    if (this.#ngrams) banTokens(row, this.#ngrams.bannedNext());
    let token: number;
    if (s.doSample) {
      applyTemperature(row, s.temperature);
      token = sampleToken(row, s, this.#rng);
    } else {
      token = argmax(row);
    }
    if (token >= 0) this.#record(token);
    return token;
  }

  #record(token: number): void {
    if (this.#settings.repetitionPenalty !== 1) this.#seen.add(token);
    this.#ngrams?.push(token);
  }
}
