/**
 * One independently decoded sequence (a "lane"): its token choice, its text as it streams, its
 * stop strings, and the log-probability of every token it takes. The scheduler and speculative
 * decoding both feed lanes; how a token was chosen is theirs, what it does to the sequence is here.
 */
import type { FinishReason } from '../../../shared/api';
import type { GeneratedSequence } from './generate';
import { tokenLogprob, topLogprobs, type TokenLogprob } from './logprobs';
import type { TokenChooser } from './next-token';
import { StopStringFilter } from './stop-strings';
import { TokenTextStream, type TokenBytes } from './text-stream';

/** What a lane needs to know about its request. */
export interface LaneOptions {
  /** The request's sequences this lane produces (K of them for greedy decoding, else one). */
  sequences: readonly number[];
  chooser: TokenChooser;
  tokenBytes: TokenBytes;
  stop: readonly string[];
  eosTokenId: number;
  maxNewTokens: number;
  nPositions: number;
  /** Alternatives to keep per token (0 = none). */
  topLogprobs: number;
  onDelta?: ((sequence: number, text: string) => void) | undefined;
}

/** A sequence being generated. */
export class Lane {
  readonly sequences: readonly number[];
  readonly chooser: TokenChooser;
  readonly tokenIds: number[] = [];
  readonly #logprobs: number[] = [];
  readonly #alternatives: TokenLogprob[][] | null;
  readonly #text: TokenTextStream;
  readonly #stops: StopStringFilter;
  readonly #options: LaneOptions;
  #finishReason: FinishReason | null = null;

  constructor(options: LaneOptions) {
    this.#options = options;
    this.sequences = options.sequences;
    this.chooser = options.chooser;
    this.#text = new TokenTextStream(options.tokenBytes);
    this.#stops = new StopStringFilter(options.stop);
    this.#alternatives = options.topLogprobs > 0 ? [] : null;
  }

  /** Tokens the lane may still take before max new tokens. */
  remaining(): number {
    return this.#options.maxNewTokens - this.tokenIds.length;
  }

  /** Why the lane ended, or null while it runs. */
  get finishReason(): FinishReason | null {
    return this.#finishReason;
  }

  /**
   * Takes `token`, chosen from `raw` (the unprocessed logits, whose log-sum-exp is `logSumExp`)
   * when the row held `length` positions. Returns true while the lane goes on (the token is to be
   * fed next), false once it has ended (end of text, a stop string, max new tokens, the window).
   */
  take(token: number, raw: Float32Array, logSumExp: number, length: number): boolean {
    const { eosTokenId, maxNewTokens, nPositions, topLogprobs: top } = this.#options;
    // Every token banned (-1): nothing sensible can follow.
    if (token === eosTokenId || token < 0) {
      this.finish('stop');
      return false;
    }
    this.tokenIds.push(token);
    this.#logprobs.push(tokenLogprob(raw, token, logSumExp));
    this.#alternatives?.push(topLogprobs(raw, top, logSumExp));
    const update = this.#stops.push(this.#text.push(token));
    this.#emit(update.emit);
    if (update.stopped) this.finish('stop');
    else if (this.tokenIds.length >= maxNewTokens || length + 1 >= nPositions) this.finish('length');
    return this.#finishReason === null;
  }

  /** Ends the lane, releasing the text its stop strings held back. */
  finish(reason: FinishReason): void {
    if (this.#finishReason !== null) return;
    this.#finishReason = reason;
    if (this.#stops.stopped) return;
    const update = this.#stops.push(this.#text.end());
    this.#emit(update.emit);
    this.#emit(this.#stops.end());
  }

  /** The sequence as the request returns it. */
  result(): GeneratedSequence {
    return {
      text: this.#stops.text,
      tokenIds: this.tokenIds.slice(),
      finishReason: this.#finishReason ?? 'cancelled',
      tokenLogprobs: this.#logprobs.slice(),
      ...(this.#alternatives ? { topLogprobs: this.#alternatives.map((step) => step.slice()) } : {}),
    };
  }

  #emit(text: string): void {
    const onDelta = this.#options.onDelta;
    if (text.length === 0 || !onDelta) return;
    for (const s of this.sequences) onDelta(s, text);
  }
}
