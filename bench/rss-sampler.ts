/**
 * Samples another process's resident set size from outside (/proc/<pid>/status), so a
 * phase's peak is seen even while that process's JavaScript thread is blocked:
 * onnxruntime-node 1.30 runs a session synchronously on the main thread, where a timer
 * inside the measured process would not fire until the run is over. Linux only.
 */
import { readFileSync } from 'node:fs';

/** Sampling period; one small /proc read per sample. */
const SAMPLE_MS = 5;

/** VmRSS of `pid` in KiB, or undefined when it cannot be read. */
function residentKiB(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Peak RSS of one process over a phase. */
export class RssSampler {
  readonly #pid: number;
  #peakKiB = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(pid: number) {
    this.#pid = pid;
  }

  start(): void {
    this.#peakKiB = 0;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), SAMPLE_MS);
  }

  #sample(): void {
    this.#peakKiB = Math.max(this.#peakKiB, residentKiB(this.#pid) ?? 0);
  }

  /** Highest RSS sampled since start(), in MiB (NaN when nothing could be read). */
  stop(): number {
    clearInterval(this.#timer);
    this.#sample();
    return this.#peakKiB > 0 ? this.#peakKiB / 1024 : Number.NaN;
  }
}
