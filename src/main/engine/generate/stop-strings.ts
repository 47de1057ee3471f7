/**
 * User stop strings, matched on decoded text. Text that could still turn out
 * to be the start of a stop string is held back, so streamed text never shows
 * any part of one; the final text ends right before the first stop string.
 */

/** What one piece of new text changes. */
export interface StopStringUpdate {
  /** Text now safe to show (never part of a stop string). */
  emit: string;
  /** True once a stop string has appeared; nothing more is emitted after this. */
  stopped: boolean;
}

/** Watches one sequence's text for stop strings. */
export class StopStringFilter {
  readonly #stops: readonly string[];
  readonly #longest: number;
  #text = '';
  #emitted = 0;
  #stopped = false;

  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s.length > 0);
    this.#longest = this.#stops.reduce((max, s) => Math.max(max, s.length), 0);
  }

  /** The text shown so far (the final text once the sequence ends). */
  get text(): string {
    return this.#text.slice(0, this.#emitted);
  }

  /** True once a stop string has been seen. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Adds decoded text; returns what may be shown now and whether a stop string completed. */
  push(piece: string): StopStringUpdate {
    if (this.#stopped || piece.length === 0) return { emit: '', stopped: this.#stopped };
    const searchFrom = Math.max(0, this.#text.length - this.#longest + 1);
    this.#text += piece;
    const at = this.#firstStopAt(searchFrom);
    if (at >= 0) {
      this.#stopped = true;
      return { emit: this.#advanceTo(Math.max(at, this.#emitted)), stopped: true };
    }
    return { emit: this.#advanceTo(this.#text.length - this.#heldBack()), stopped: false };
  }

  /** Ends the sequence without a stop string: releases the held-back text. */
  end(): string {
    if (this.#stopped) return '';
    return this.#advanceTo(this.#text.length);
  }

  #advanceTo(end: number): string {
    let safeEnd = end;
    // Never split a surrogate pair between two deltas.
    const code = this.#text.charCodeAt(safeEnd - 1);
    if (safeEnd < this.#text.length && code >= 0xd800 && code <= 0xdbff) safeEnd--;
    if (safeEnd <= this.#emitted) return '';
    const emit = this.#text.slice(this.#emitted, safeEnd);
    this.#emitted = safeEnd;
    return emit;
  }

  /** Earliest index ≥ from where a stop string starts, or -1. */
  #firstStopAt(from: number): number {
    let first = -1;
    for (const stop of this.#stops) {
      const at = this.#text.indexOf(stop, from);
      if (at >= 0 && (first < 0 || at < first)) first = at;
    }
    return first;
  }

  /** Length of the longest end of the text that is a proper prefix of some stop string. */
  #heldBack(): number {
    const text = this.#text;
    for (let length = Math.min(this.#longest - 1, text.length); length > 0; length--) {
      const tail = text.slice(text.length - length);
      if (this.#stops.some((stop) => stop.length > length && stop.startsWith(tail))) return length;
    }
    return 0;
  }
}
