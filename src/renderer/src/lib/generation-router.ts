/**
 * Routes streamed generation events to whoever started the generation.
 *
 * Events can arrive before `generate.start` has answered with the id (the
 * WebSocket and the HTTP response race), so events for ids nobody claimed
 * yet are buffered and replayed when the start call resolves.
 */
import type { GenerationEvent, InkwellApi, MethodRequest } from '../../../shared/api';

/** Receives the events of one generation, in order. */
export type GenerationListener = (event: GenerationEvent) => void;

/** The request of `generate.start`. */
export type GenerateRequest = MethodRequest<'generate.start'>;

const maxBufferedIds = 32;
const maxEventsPerId = 20_000;

/** One router per app; fed by the app's single event subscription. */
export class GenerationRouter {
  readonly #api: InkwellApi;
  readonly #listeners = new Map<string, GenerationListener>();
  readonly #unclaimed = new Map<string, GenerationEvent[]>();

  constructor(api: InkwellApi) {
    this.#api = api;
  }

  /** Starts a generation and delivers its events (including any that raced ahead) to `listener`. */
  async start(request: GenerateRequest, listener: GenerationListener): Promise<string> {
    const { generationId } = await this.#api.call('generate.start', request);
    this.#listeners.set(generationId, listener);
    const early = this.#unclaimed.get(generationId) ?? [];
    this.#unclaimed.delete(generationId);
    for (const event of early) this.dispatch(event);
    return generationId;
  }

  /** Asks the back end to stop a generation; its final event still arrives. */
  async cancel(generationId: string): Promise<boolean> {
    const { cancelled } = await this.#api.call('generate.cancel', { generationId });
    return cancelled;
  }

  /** Stops delivering events of a generation to its listener. */
  forget(generationId: string): void {
    this.#listeners.delete(generationId);
  }

  /** Feeds one event from the back end. */
  dispatch(event: GenerationEvent): void {
    const listener = this.#listeners.get(event.generationId);
    if (listener) {
      if (event.type === 'done' || event.type === 'error') this.#listeners.delete(event.generationId);
      listener(event);
      return;
    }
    let buffered = this.#unclaimed.get(event.generationId);
    if (!buffered) {
      // Another window's generations also arrive here; keep only the newest few ids.
      if (this.#unclaimed.size >= maxBufferedIds) {
        const oldest = this.#unclaimed.keys().next().value;
        if (oldest !== undefined) this.#unclaimed.delete(oldest);
      }
      buffered = [];
      this.#unclaimed.set(event.generationId, buffered);
    }
    if (buffered.length < maxEventsPerId) buffered.push(event);
  }
}
