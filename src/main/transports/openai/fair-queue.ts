/**
 * Admission for /v1 generations: at most `maxRunning` at once, at most
 * `maxWaiting` waiting, at most `maxWaitingPerClient` of them from one client,
 * served round-robin between clients so that a script sending twenty requests
 * does not starve a writer sending one. A full queue refuses at once with an
 * estimate of when to come back (429 + Retry-After) instead of holding the
 * connection open with no end in sight.
 */

/** Limits of a queue. */
export interface FairQueueOptions {
  /** Generations running at once (1 for one engine; more once the engine batches requests). */
  maxRunning: number;
  /** Requests waiting, all clients together. */
  maxWaiting: number;
  /** Requests waiting from one client. */
  maxWaitingPerClient: number;
  /** Guess of one generation's duration before any has finished (default 10 s). */
  initialServiceMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

/** Why a request was refused, and when to try again. */
export class QueueFullError extends Error {
  readonly retryAfterSeconds: number;
  readonly scope: 'server' | 'client';

  constructor(scope: 'server' | 'client', message: string, retryAfterSeconds: number) {
    super(message);
    this.name = 'QueueFullError';
    this.scope = scope;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A granted slot; release it exactly once when the generation ends (later calls do nothing). */
export interface QueueTicket {
  /** How long the request waited. */
  readonly waitedMs: number;
  release(): void;
}

interface Waiter {
  readonly client: string;
  readonly enqueuedAt: number;
  grant(ticket: QueueTicket): void;
  fail(error: unknown): void;
}

/** Longest Retry-After the queue ever suggests. */
const MAX_RETRY_AFTER_SECONDS = 600;
/** Weight of the latest duration in the running average. */
const SMOOTHING = 0.3;

/** A bounded queue, fair between clients. */
export class FairQueue {
  readonly #options: Required<FairQueueOptions>;
  /** Waiters per client; Map order is the round-robin order (a client served moves to the end). */
  readonly #waiting = new Map<string, Waiter[]>();
  #waitingCount = 0;
  #running = 0;
  #averageServiceMs: number;
  #closedWith: Error | null = null;

  constructor(options: FairQueueOptions) {
    if (options.maxRunning < 1) throw new RangeError('maxRunning must be at least 1');
    this.#options = { initialServiceMs: 10_000, now: () => performance.now(), ...options };
    this.#averageServiceMs = this.#options.initialServiceMs;
  }

  /** Generations running now. */
  get running(): number {
    return this.#running;
  }

  /** Requests waiting now. */
  get waiting(): number {
    return this.#waitingCount;
  }

  /**
   * Waits for a slot. Rejects at once with QueueFullError when the queue (or
   * this client's share of it) is full, with the signal's reason when it aborts
   * while waiting (the request leaves the queue), and with the close error
   * after close().
   */
  enter(client: string, signal?: AbortSignal): Promise<QueueTicket> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#running < this.#options.maxRunning && this.#waitingCount === 0) {
      return Promise.resolve(this.#start(this.#options.now()));
    }
    const mine = this.#waiting.get(client)?.length ?? 0;
    if (mine >= this.#options.maxWaitingPerClient) {
      return Promise.reject(new QueueFullError('client', `${mine} of your requests are already waiting (at most ${this.#options.maxWaitingPerClient} per client); retry when one has finished.`, this.retryAfterSeconds()));
    }
    if (this.#waitingCount >= this.#options.maxWaiting) {
      return Promise.reject(new QueueFullError('server', `The server is busy: ${this.#running} generation(s) running and ${this.#waitingCount} waiting (the queue holds ${this.#options.maxWaiting}).`, this.retryAfterSeconds()));
    }
    return new Promise<QueueTicket>((resolve, reject) => {
      const onAbort = (): void => {
        if (this.#remove(waiter)) reject(signal?.reason);
      };
      const waiter: Waiter = {
        client,
        enqueuedAt: this.#options.now(),
        grant: (ticket) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(ticket);
        },
        fail: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const list = this.#waiting.get(client);
      if (list) list.push(waiter);
      else this.#waiting.set(client, [waiter]);
      this.#waitingCount++;
    });
  }

  /** Seconds until a slot is likely free: everything ahead, spread over the running slots, at the average duration. */
  retryAfterSeconds(): number {
    const ahead = this.#running + this.#waitingCount;
    const seconds = Math.ceil(((ahead / this.#options.maxRunning) * this.#averageServiceMs) / 1000);
    return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, seconds));
  }

  /** Refuses new requests and fails every waiting one with `error`; running ones finish. */
  close(error: Error): void {
    this.#closedWith = error;
    for (const list of this.#waiting.values()) for (const waiter of list) waiter.fail(error);
    this.#waiting.clear();
    this.#waitingCount = 0;
  }

  #start(enqueuedAt: number): QueueTicket {
    this.#running++;
    const startedAt = this.#options.now();
    let released = false;
    return {
      waitedMs: startedAt - enqueuedAt,
      release: () => {
        if (released) return;
        released = true;
        this.#running--;
        const took = this.#options.now() - startedAt;
        this.#averageServiceMs += SMOOTHING * (took - this.#averageServiceMs);
        this.#dispatch();
      },
    };
  }

  #dispatch(): void {
    while (this.#running < this.#options.maxRunning && this.#waitingCount > 0) {
      const [client, list] = this.#waiting.entries().next().value as [string, Waiter[]];
      const waiter = list.shift() as Waiter;
      this.#waiting.delete(client);
      if (list.length > 0) this.#waiting.set(client, list);
      this.#waitingCount--;
      waiter.grant(this.#start(waiter.enqueuedAt));
    }
  }

  #remove(waiter: Waiter): boolean {
    const list = this.#waiting.get(waiter.client);
    const at = list?.indexOf(waiter) ?? -1;
    if (!list || at < 0) return false;
    list.splice(at, 1);
    if (list.length === 0) this.#waiting.delete(waiter.client);
    this.#waitingCount--;
    return true;
  }
}
