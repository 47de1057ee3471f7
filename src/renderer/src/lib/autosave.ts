/**
 * Debounced, serialized saving: edits are merged into one pending patch,
 * written `delayMs` after the last edit, never two writes at once (so a
 * slow save cannot overtake a newer one), and retried after a failure.
 */

/** What the saved indicator shows. */
export type SaveState = 'saved' | 'pending' | 'saving' | 'error';

/** Timer functions, injectable so tests can use fake time. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Construction options of an Autosaver. */
export interface AutosaverOptions<P extends object> {
  delayMs: number;
  /** Retry delay after a failed save. */
  retryMs?: number;
  save(patch: P): Promise<void>;
  onStateChange?(state: SaveState, error: unknown): void;
  timers?: Timers;
}

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Merges patches and saves them after a quiet period, one save at a time. */
export class Autosaver<P extends object> {
  readonly #options: AutosaverOptions<P>;
  readonly #timers: Timers;
  #pending: Partial<P> | null = null;
  #timer: unknown = null;
  #inFlight: Promise<void> | null = null;
  #state: SaveState = 'saved';
  /** Bumped by discard(): a save started before it must not bring its patch back when it fails. */
  #discards = 0;

  constructor(options: AutosaverOptions<P>) {
    this.#options = options;
    this.#timers = options.timers ?? defaultTimers;
  }

  /** The indicator's state. */
  get state(): SaveState {
    return this.#state;
  }

  /** True while an edit has not reached the back end. */
  get dirty(): boolean {
    return this.#pending !== null || this.#inFlight !== null;
  }

  /** Records an edit; later fields win over earlier ones. */
  schedule(patch: Partial<P>): void {
    this.#pending = { ...this.#pending, ...patch };
    this.#setState(this.#inFlight ? 'saving' : 'pending', null);
    this.#arm(this.#options.delayMs);
  }

  /** Saves whatever is pending now and resolves once everything scheduled so far is written (or failed). */
  async flush(): Promise<void> {
    this.#disarm();
    while (this.#inFlight || this.#pending) {
      if (this.#inFlight) {
        await this.#inFlight;
        continue;
      }
      await this.#run();
      if (this.#state === 'error') return;
    }
  }

  /** Drops pending edits, and the patch of a save in flight should it fail (the document was deleted). */
  discard(): void {
    this.#disarm();
    this.#pending = null;
    this.#discards += 1;
    if (!this.#inFlight) this.#setState('saved', null);
  }

  #arm(ms: number): void {
    this.#disarm();
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = null;
      void this.flush();
    }, ms);
  }

  #disarm(): void {
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
  }

  #run(): Promise<void> {
    this.#disarm();
    const patch = this.#pending as P;
    const discards = this.#discards;
    this.#pending = null;
    this.#setState('saving', null);
    const run = Promise.resolve()
      .then(() => this.#options.save(patch))
      .then(
        () => {
          this.#inFlight = null;
          this.#setState(this.#pending ? 'pending' : 'saved', null);
        },
        (error: unknown) => {
          this.#inFlight = null;
          if (discards !== this.#discards) {
            this.#setState(this.#pending ? 'pending' : 'saved', null);
            if (this.#pending) this.#arm(this.#options.delayMs);
            return;
          }
          // Newer edits win; the failed patch only fills the fields they do not touch.
          this.#pending = { ...patch, ...this.#pending };
          this.#setState('error', error);
          this.#arm(this.#options.retryMs ?? 5000);
        },
      );
    this.#inFlight = run;
    return run;
  }

  #setState(state: SaveState, error: unknown): void {
    if (state === this.#state && state !== 'error') return;
    this.#state = state;
    this.#options.onStateChange?.(state, error);
  }
}
