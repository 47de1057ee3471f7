/**
 * The candidate cards of one Continue: an immutable state machine
 * (idle → waiting → streaming → done | stopped | failed), so every transition
 * is a plain function that tests can drive without Svelte or a back end.
 */
import type { FinishReason, GenerationResult } from '../../../shared/api';

/** Where one generation's candidates stand. */
export type CandidatePhase = 'idle' | 'waiting' | 'streaming' | 'done' | 'stopped' | 'failed';

/** One card as the UI shows it. */
export interface CandidateCard {
  index: number;
  text: string;
  finishReason: FinishReason | null;
  /** Once finished, when the engine reported them: the ids generated and each one's log-probability (the Inspect panel colours them). */
  tokenIds?: readonly number[];
  tokenLogprobs?: readonly number[];
  /** A remote engine's candidate: the server's tokens as text, one per tokenLogprobs entry (tokenIds may be empty). */
  tokenTexts?: readonly string[];
}

/** What `accept` hands back: the text to insert and which candidate it was. */
export interface Acceptance {
  index: number;
  text: string;
  next: CandidateSet;
}

/** Immutable candidate list with a selection; every method returns a new set (or `this` when nothing changes). */
export class CandidateSet {
  readonly phase: CandidatePhase;
  readonly cards: readonly CandidateCard[];
  readonly selected: number;
  /** Set when phase is 'failed'. */
  readonly error: string | null;

  private constructor(phase: CandidatePhase, cards: readonly CandidateCard[], selected: number, error: string | null) {
    this.phase = phase;
    this.cards = cards;
    this.selected = selected;
    this.error = error;
  }

  /** Nothing requested. */
  static idle(): CandidateSet {
    return new CandidateSet('idle', [], 0, null);
  }

  /** A request is on its way; `expected` empty cards are shown until the back end says how many it runs. */
  static waiting(expected: number): CandidateSet {
    return new CandidateSet('waiting', emptyCards(Math.max(0, expected)), 0, null);
  }

  /** True while the back end may still send text. */
  get running(): boolean {
    return this.phase === 'waiting' || this.phase === 'streaming';
  }

  /** The card the ghost text shows, if any. */
  get current(): CandidateCard | null {
    return this.cards[this.selected] ?? null;
  }

  /** True when Tab has something to accept. */
  get canAccept(): boolean {
    return this.phase !== 'idle' && this.phase !== 'failed' && (this.current?.text.length ?? 0) > 0;
  }

  /** The back end started `count` sequences. */
  started(count: number): CandidateSet {
    if (!this.running) return this;
    const cards = emptyCards(count).map((card, i) => this.cards[i] ?? card);
    return new CandidateSet('streaming', cards, clampIndex(this.selected, cards.length), null);
  }

  /** Appends streamed text to one sequence; unknown sequences are ignored. */
  withDelta(sequence: number, text: string): CandidateSet {
    if (!this.running || text.length === 0) return this;
    const card = this.cards[sequence];
    if (!card) return this;
    const cards = this.cards.slice();
    cards[sequence] = { ...card, text: card.text + text };
    return new CandidateSet('streaming', cards, this.selected, null);
  }

  /** The final result is authoritative: it replaces the streamed text. */
  finished(result: Pick<GenerationResult, 'sequences'>): CandidateSet {
    const cards = result.sequences.map((seq, index): CandidateCard => ({
      index,
      text: seq.text,
      finishReason: seq.finishReason,
      ...(seq.tokenLogprobs ? { tokenIds: seq.tokenIds, tokenLogprobs: seq.tokenLogprobs, ...(seq.tokenTexts ? { tokenTexts: seq.tokenTexts } : {}) } : {}),
    }));
    const allCancelled = cards.length > 0 && cards.every((c) => c.finishReason === 'cancelled');
    return new CandidateSet(allCancelled ? 'stopped' : 'done', cards, clampIndex(this.selected, cards.length), null);
  }

  /** The user stopped it before a result arrived: keep what streamed. */
  stopped(): CandidateSet {
    if (!this.running) return this;
    const cards = this.cards.map((c) => ({ ...c, finishReason: c.finishReason ?? ('cancelled' as const) }));
    return new CandidateSet('stopped', cards, this.selected, null);
  }

  /** The request failed; cards streamed so far stay visible. */
  failed(message: string): CandidateSet {
    return new CandidateSet('failed', this.cards, this.selected, message);
  }

  /** Moves the selection by `step`, wrapping around (Alt+[ / Alt+]). */
  cycle(step: number): CandidateSet {
    const n = this.cards.length;
    if (n < 2) return this;
    return this.select((((this.selected + step) % n) + n) % n);
  }

  /** Selects one card (a click on it). */
  select(index: number): CandidateSet {
    if (index < 0 || index >= this.cards.length || index === this.selected) return this;
    return new CandidateSet(this.phase, this.cards, index, this.error);
  }

  /** Takes the selected candidate; the set goes back to idle. Null when there is nothing to accept. */
  accept(): Acceptance | null {
    const card = this.current;
    if (!this.canAccept || !card) return null;
    return { index: card.index, text: card.text, next: CandidateSet.idle() };
  }
}

function emptyCards(count: number): CandidateCard[] {
  return Array.from({ length: count }, (_, index) => ({ index, text: '', finishReason: null }));
}

function clampIndex(index: number, length: number): number {
  return length === 0 ? 0 : Math.min(Math.max(0, index), length - 1);
}
