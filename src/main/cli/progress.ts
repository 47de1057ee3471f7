/**
 * Progress of long CLI work (downloads, imports) on stderr: a bar redrawn in
 * place on a terminal, and plain lines elsewhere (a log, a pipe, CI), one per
 * tenth of each step or when the step changes, so logs stay readable.
 */
import { formatBytes } from '../engine';
import type { CliIo } from './io';

/** One moment of progress. */
export interface ProgressState {
  /** What is happening: "downloading model.safetensors", "scanning weights", … */
  readonly label: string;
  readonly done: number;
  readonly total: number;
  /** Whether done/total are bytes (shown as sizes) or steps. */
  readonly unit: 'bytes' | 'steps';
  readonly bytesPerSecond?: number;
  readonly secondsLeft?: number;
  /** More to show first, in words ("37/100 rows, 412.0 tokens/s"). */
  readonly note?: string;
}

/** Draws progress; `finish` ends the bar's line. */
export interface ProgressReporter {
  update(state: ProgressState): void;
  finish(): void;
}

const REDRAW_MS = 100;
const BAR_WIDTH = 24;

/** "1m20s", "45s", "2h05m". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function describe(state: ProgressState): { percent: number; detail: string } {
  const percent = state.total > 0 ? Math.min(100, Math.floor((state.done / state.total) * 100)) : 0;
  const parts: string[] = state.note ? [state.note] : [];
  if (state.unit === 'bytes' && state.total > 0) parts.push(`${formatBytes(state.done)} of ${formatBytes(state.total)}`);
  if (state.bytesPerSecond !== undefined && state.bytesPerSecond > 0) parts.push(`${formatBytes(state.bytesPerSecond)}/s`);
  if (state.secondsLeft !== undefined && Number.isFinite(state.secondsLeft) && state.done < state.total) parts.push(`${formatDuration(state.secondsLeft)} left`);
  return { percent, detail: parts.join(', ') };
}

/** Draws nothing: for quick work whose progress would only clutter a log. */
export const SILENT_PROGRESS: ProgressReporter = { update: () => undefined, finish: () => undefined };

/** A bar on a terminal, nothing elsewhere: for work that takes seconds (an import), not minutes. */
export function createTerminalProgress(io: CliIo): ProgressReporter {
  return io.stderrIsTTY ? createProgressReporter(io) : SILENT_PROGRESS;
}

/** A reporter for `io`: a bar when stderr is a terminal, plain lines otherwise. */
export function createProgressReporter(io: CliIo, now: () => number = () => performance.now()): ProgressReporter {
  if (io.stderrIsTTY) {
    let drawn = false;
    let last = -Infinity;
    return {
      update(state) {
        const at = now();
        if (at - last < REDRAW_MS && state.done < state.total) return;
        last = at;
        const { percent, detail } = describe(state);
        const filled = Math.round((percent / 100) * BAR_WIDTH);
        const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`;
        const line = `${bar} ${String(percent).padStart(3)}%  ${detail}${detail ? '  ' : ''}${state.label}`;
        const width = Math.max(20, (io.columns ?? 80) - 1);
        io.stderr(`\r\x1b[K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
        drawn = true;
      },
      finish() {
        if (drawn) io.stderr('\n');
        drawn = false;
      },
    };
  }
  let lastLabel = '';
  let lastTenth = -1;
  return {
    update(state) {
      const { percent, detail } = describe(state);
      const tenth = Math.floor(percent / 10);
      if (state.label === lastLabel && tenth === lastTenth) return;
      lastLabel = state.label;
      lastTenth = tenth;
      io.stderr(`${state.label}: ${percent}%${detail ? ` (${detail})` : ''}\n`);
    },
    finish() {
      lastLabel = '';
      lastTenth = -1;
    },
  };
}
