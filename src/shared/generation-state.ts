/**
 * What `generate.get` reports: each generation's state, folded from the same events the UI is
 * streamed ('started', 'delta', 'done', 'error'), so that a client that missed some of them (a
 * WebSocket reconnect) can resync. Running generations are always kept; finished ones for a while
 * (10 minutes, at most 64 by default), oldest first out. Pure TypeScript: the back end keeps one
 * per service, the UI's demo back end one of its own.
 */
import type { GenerationEvent, GenerationState } from './api';

/** How long finished generations are kept. */
export interface GenerationStatesOptions {
  /** Milliseconds a finished generation stays (default 10 minutes). */
  keepMs?: number;
  /** Finished generations kept at most (default 64). */
  maxFinished?: number;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

interface Tracked {
  state: GenerationState;
  finishedAt: number | null;
}

/** The state of recent generations, by id. */
export class GenerationStates {
  readonly #entries = new Map<string, Tracked>();
  readonly #keepMs: number;
  readonly #maxFinished: number;
  readonly #now: () => number;

  constructor(options: GenerationStatesOptions = {}) {
    this.#keepMs = options.keepMs ?? 10 * 60_000;
    this.#maxFinished = options.maxFinished ?? 64;
    this.#now = options.now ?? Date.now;
  }

  /** Starts tracking a generation that has been accepted but has not started yet. */
  begin(generationId: string): void {
    this.#entries.set(generationId, { state: { generationId, status: 'running', texts: [] }, finishedAt: null });
    this.#prune();
  }

  /** Folds one streamed event into its generation's state (an unknown id starts tracking it). */
  record(event: GenerationEvent): void {
    let tracked = this.#entries.get(event.generationId);
    if (!tracked) {
      this.begin(event.generationId);
      tracked = this.#entries.get(event.generationId) as Tracked;
    }
    const { state } = tracked;
    switch (event.type) {
      case 'started': {
        const { type: _type, generationId: _id, ...started } = event;
        state.started = started;
        state.texts = Array.from({ length: started.numSequences }, (_, i) => state.texts[i] ?? '');
        break;
      }
      case 'delta':
        while (state.texts.length <= event.sequence) state.texts.push('');
        state.texts[event.sequence] += event.text;
        break;
      case 'done':
        state.status = 'done';
        state.result = event.result;
        state.texts = event.result.sequences.map((candidate) => candidate.text);
        tracked.finishedAt = this.#now();
        break;
      case 'error':
        state.status = 'error';
        state.error = event.error;
        tracked.finishedAt = this.#now();
        break;
    }
    this.#prune();
  }

  /** A copy of the generation's state, or undefined when it is unknown or was dropped. */
  get(generationId: string): GenerationState | undefined {
    this.#prune();
    const tracked = this.#entries.get(generationId);
    return tracked ? structuredClone(tracked.state) : undefined;
  }

  #prune(): void {
    const oldest = this.#now() - this.#keepMs;
    const finished: [string, number][] = [];
    for (const [id, tracked] of this.#entries) {
      if (tracked.finishedAt === null) continue;
      if (tracked.finishedAt < oldest) this.#entries.delete(id);
      else finished.push([id, tracked.finishedAt]);
    }
    if (finished.length <= this.#maxFinished) return;
    finished.sort((a, b) => a[1] - b[1]);
    for (const [id] of finished.slice(0, finished.length - this.#maxFinished)) this.#entries.delete(id);
  }
}
