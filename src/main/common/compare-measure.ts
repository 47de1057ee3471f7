/**
 * What a Compare column costs, measured where the engine runs (the inference process, or the CLI's
 * own process): time to first streamed text, the whole run, and the largest resident set seen
 * while it ran. Measured there rather than in the main process, so no IPC hop is counted.
 */
import type { GenerationOutcome } from '../../shared/api';

/** A generation's outcome with the figures Compare shows. */
export interface MeasuredGeneration {
  outcome: GenerationOutcome;
  /** null when the column streamed no text. */
  ttftMs: number | null;
  totalMs: number;
  peakRssBytes: number;
}

/** The streaming hook `run` must call on every delta. */
export type DeltaHook = () => void;

/** Runs `run`, sampling process.memoryUsage.rss() every `sampleMs` while it runs (and at both ends). */
export async function measureGeneration(run: (onDelta: DeltaHook) => Promise<GenerationOutcome>, sampleMs = 20): Promise<MeasuredGeneration> {
  const start = performance.now();
  let peakRssBytes = process.memoryUsage.rss();
  let ttftMs: number | null = null;
  const sample = (): void => {
    peakRssBytes = Math.max(peakRssBytes, process.memoryUsage.rss());
  };
  const timer = setInterval(sample, sampleMs);
  timer.unref?.();
  try {
    const outcome = await run(() => {
      ttftMs ??= performance.now() - start;
      sample();
    });
    sample();
    return { outcome, ttftMs, totalMs: performance.now() - start, peakRssBytes };
  } finally {
    clearInterval(timer);
  }
}
