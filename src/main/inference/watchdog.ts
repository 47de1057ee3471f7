/**
 * Notices an inference process that has stopped working without dying (issue 6 §3.5: with the
 * process stopped by SIGSTOP, generations hung and the status said "ready" for good). Two signals:
 * - the heartbeat: the process beats every second from its main thread (long synchronous work,
 *   the import's graph building, runs in a worker thread there), so silence past `hangMs` means
 *   the whole process is stuck or stopped;
 * - progress: a running generation that streams nothing for `stallMs` while the process still
 *   beats has a decoder stuck in native code.
 */

/** Limits and the clock of a Watchdog. */
export interface WatchdogOptions {
  /** Silence (no message at all) after which the process counts as hung. */
  hangMs: number;
  /** Time without any event after which a running generation counts as stuck. */
  stallMs: number;
  /** How often the clocks are checked. */
  checkEveryMs?: number;
  /** Called once, with the reason in words, when either limit is passed. */
  onHang(reason: string): void;
  now?: () => number;
}

/** Watches one process: feed it every message; stop() it when the process ends. */
export class Watchdog {
  readonly #options: WatchdogOptions;
  readonly #now: () => number;
  readonly #progress = new Map<number, number>();
  readonly #timer: ReturnType<typeof setInterval>;
  #heard: number;
  #fired = false;

  constructor(options: WatchdogOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#heard = this.#now();
    this.#timer = setInterval(() => this.check(), options.checkEveryMs ?? Math.max(100, Math.min(1_000, options.hangMs / 4)));
    this.#timer.unref?.();
  }

  /** Any message from the process. */
  heard(): void {
    this.#heard = this.#now();
  }

  /** A generation (by request number) started or streamed something. */
  progressed(seq: number): void {
    this.#progress.set(seq, this.#now());
  }

  /** A generation ended. */
  forget(seq: number): void {
    this.#progress.delete(seq);
  }

  /** Compares the clocks with the limits; runs on its own timer, callable by tests. */
  check(): void {
    if (this.#fired) return;
    const now = this.#now();
    const silentMs = now - this.#heard;
    if (silentMs > this.#options.hangMs) {
      this.#fire(`it sent nothing, not even its heartbeat, for ${seconds(silentMs)}`);
      return;
    }
    for (const at of this.#progress.values()) {
      if (now - at > this.#options.stallMs) {
        this.#fire(`a generation made no progress for ${seconds(now - at)}`);
        return;
      }
    }
  }

  /** Stops watching. */
  stop(): void {
    clearInterval(this.#timer);
    this.#progress.clear();
  }

  #fire(reason: string): void {
    this.#fired = true;
    this.stop();
    this.#options.onHang(reason);
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}
