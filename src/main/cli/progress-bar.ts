/** A one-line progress bar for long CLI work, redrawn in place on a terminal. */
import type { CliIo } from './io';

const WIDTH = 30;

/** Draws `label [#####-----] 42% phase` on stderr when it is a terminal; prints nothing otherwise. */
export class ProgressBar {
  #last = '';

  constructor(private readonly io: CliIo, private readonly label: string) {}

  /** Redraws the bar at `fraction` (0 … 1) with `detail` after it; unchanged lines are not redrawn. */
  update(fraction: number, detail: string): void {
    if (!this.io.stderrIsTerminal) return;
    const filled = Math.round(Math.min(1, Math.max(0, fraction)) * WIDTH);
    const line = `${this.label} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}% ${detail}`;
    if (line === this.#last) return;
    this.#last = line;
    this.io.stderr(`\r\x1b[2K${line}`);
  }

  /** Ends the bar's line (nothing when no bar was drawn). */
  finish(): void {
    if (this.io.stderrIsTerminal && this.#last !== '') this.io.stderr('\n');
  }
}
