/**
 * Progress of a long CLI job: a bar redrawn in place on a terminal, plain lines otherwise
 * (a log file or a pipe gets a line every 10% or every 10 seconds).
 */

/** What the job has done so far. */
export interface ProgressState {
  done: number;
  total: number;
  /** Tokens generated so far (for the rate). */
  tokens: number;
}

const BAR_WIDTH = 24;
const REDRAW_MS = 200;
const LINE_EVERY_MS = 10_000;

/** "1h 02m", "3m 05s", "12s". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Reports progress to `write` (stderr): in place when `tty`, as lines otherwise. */
export class ProgressReporter {
  readonly #write: (text: string) => void;
  readonly #tty: boolean;
  readonly #label: string;
  readonly #started = Date.now();
  #lastDraw = 0;
  #lastTenth = -1;
  #drawn = false;

  constructor(write: (text: string) => void, tty: boolean, label: string) {
    this.#write = write;
    this.#tty = tty;
    this.#label = label;
  }

  /** Called after every change; draws when it is time to. */
  update(state: ProgressState, force = false): void {
    const now = Date.now();
    if (this.#tty) {
      if (!force && now - this.#lastDraw < REDRAW_MS) return;
      this.#lastDraw = now;
      this.#drawn = true;
      this.#write(`\r\x1b[K${this.#bar(state)} ${this.#summary(state, now)}`);
      return;
    }
    const tenth = state.total > 0 ? Math.floor((10 * state.done) / state.total) : 10;
    if (!force && tenth === this.#lastTenth && now - this.#lastDraw < LINE_EVERY_MS) return;
    this.#lastTenth = tenth;
    this.#lastDraw = now;
    this.#write(`inkwell: ${this.#label}: ${this.#summary(state, now)}\n`);
  }

  /** Ends the bar's line on a terminal. */
  finish(): void {
    if (this.#tty && this.#drawn) this.#write('\n');
  }

  #bar(state: ProgressState): string {
    const filled = state.total > 0 ? Math.round((BAR_WIDTH * state.done) / state.total) : BAR_WIDTH;
    return `[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}]`;
  }

  #summary(state: ProgressState, now: number): string {
    const elapsed = now - this.#started;
    const rate = elapsed > 0 ? (state.tokens * 1000) / elapsed : 0;
    const left = state.done > 0 && state.done < state.total ? ` · ${formatDuration(((state.total - state.done) * elapsed) / state.done)} left` : '';
    return `${state.done}/${state.total} rows · ${rate.toFixed(1)} tokens/s${left}`;
  }
}
