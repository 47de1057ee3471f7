/**
 * Speed and time left of a transfer, from the bytes moved in the last few
 * seconds (a sliding window, so a stall shows at once and an early burst does
 * not make the estimate optimistic for the rest of a long download).
 */

/** Seconds of history the speed is measured over. */
const WINDOW_MS = 5_000;

/** Bytes per second and seconds left of a transfer, at one moment. */
export interface TransferRate {
  readonly bytesPerSecond: number;
  /** Undefined until a speed is known. */
  readonly secondsLeft?: number;
}

/** Measures one transfer of `totalBytes`, of which `alreadyDone` were on disk before it started. */
export class TransferMeter {
  readonly #totalBytes: number;
  readonly #now: () => number;
  readonly #samples: { at: number; bytes: number }[] = [];

  constructor(totalBytes: number, alreadyDone: number, now: () => number = () => performance.now()) {
    this.#totalBytes = totalBytes;
    this.#now = now;
    this.#samples.push({ at: now(), bytes: alreadyDone });
  }

  /** Records that `bytesDone` of the total are done now, and returns the rate. */
  update(bytesDone: number): TransferRate {
    const at = this.#now();
    this.#samples.push({ at, bytes: bytesDone });
    while (this.#samples.length > 2 && at - (this.#samples[1]?.at ?? at) >= WINDOW_MS) this.#samples.shift();
    const first = this.#samples[0] ?? { at, bytes: bytesDone };
    const seconds = (at - first.at) / 1000;
    const bytesPerSecond = seconds > 0 ? Math.max(0, bytesDone - first.bytes) / seconds : 0;
    const left = this.#totalBytes - bytesDone;
    return bytesPerSecond > 0 ? { bytesPerSecond, secondsLeft: left / bytesPerSecond } : { bytesPerSecond };
  }
}
