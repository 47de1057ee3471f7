/**
 * Keeps generation streams whole across a lost event connection (issue 6,
 * fault 3.8). Serve mode's events travel on a WebSocket that can drop; what
 * the server sent meanwhile is gone, and a lost `done` would leave the UI
 * streaming forever. The tracker watches every generation event, knows which
 * generations are still running, and after a reconnect turns the server's
 * account of each one (`generate.get`) into the events the UI missed.
 */
import type { ApiErrorShape, GenerationEvent, GenerationState } from '../../../shared/api';

/** Asks the server for a generation's state (`generate.get`; finished ones are kept for a while). */
export type FetchGenerationState = (generationId: string) => Promise<GenerationState>;

interface Tracked {
  started: boolean;
  /** What has been delivered of each sequence. */
  texts: string[];
  /** While a resync is under way: live events held back until the snapshot is in. */
  held: GenerationEvent[] | null;
}

const maxTracked = 64;
const maxFinished = 256;

/** Running generations and what the UI has seen of them. */
export class GenerationTracker {
  readonly #running = new Map<string, Tracked>();
  /** Recently finished ids: a live `done` that follows a resynced one must not be delivered twice. */
  readonly #finished = new Set<string>();

  /** Generations still running as far as the UI knows. */
  runningIds(): string[] {
    return [...this.#running.keys()];
  }

  /** A generation was started (its id came back from `generate.start`). */
  track(generationId: string): void {
    if (this.#finished.has(generationId) || this.#running.has(generationId)) return;
    this.#add(generationId);
  }

  /** Passes one live event through; returns what to deliver now (nothing while a resync holds it back, or for a duplicate). */
  observe(event: GenerationEvent): GenerationEvent[] {
    if (this.#finished.has(event.generationId)) return [];
    const tracked = this.#running.get(event.generationId) ?? this.#add(event.generationId);
    if (tracked.held) {
      tracked.held.push(event);
      return [];
    }
    this.#note(event.generationId, tracked, event);
    return [event];
  }

  /** A resync of `generationId` starts: live events for it are held until `finishResync` or `failResync`. */
  beginResync(generationId: string): void {
    const tracked = this.#running.get(generationId);
    if (tracked && !tracked.held) tracked.held = [];
  }

  /** The server's account arrived: the events that bring the UI up to date, in order. */
  finishResync(generationId: string, snapshot: GenerationState): GenerationEvent[] {
    const tracked = this.#running.get(generationId);
    if (!tracked) return [];
    const held = tracked.held ?? [];
    tracked.held = null;
    const out: GenerationEvent[] = [];
    if (!tracked.started && snapshot.started) out.push({ type: 'started', generationId, ...snapshot.started });
    if (snapshot.status === 'done' && snapshot.result) {
      out.push({ type: 'done', generationId, result: snapshot.result });
    } else if (snapshot.status === 'error' || snapshot.status === 'done') {
      out.push({ type: 'error', generationId, error: snapshot.error ?? { kind: 'internal', message: 'the server reported the generation as ended without its result' } });
    } else {
      out.push(...this.#catchUp(generationId, tracked, snapshot.texts, held));
    }
    for (const event of out) this.#note(generationId, tracked, event);
    return out;
  }

  /** The server could not say (it restarted, or it does not know the method): end the generation with `error`. */
  failResync(generationId: string, error: ApiErrorShape): GenerationEvent[] {
    const tracked = this.#running.get(generationId);
    if (!tracked) return [];
    const held = tracked.held ?? [];
    tracked.held = null;
    // An end that arrived live while the question was out is the better answer.
    const end = held.find((e) => e.type === 'done' || e.type === 'error');
    const out: GenerationEvent[] = end ? [end] : [{ type: 'error', generationId, error }];
    for (const event of out) this.#note(generationId, tracked, event);
    return out;
  }

  /**
   * Events for a generation still running: the text the server has beyond what
   * was delivered (one delta per sequence), then the held live deltas it does
   * not already contain, then any other held events. Held deltas that arrived
   * before the snapshot was taken end the snapshot's text; the longest such run
   * is dropped. Should that guess be wrong, `done` still replaces every
   * candidate's text with the final one.
   */
  #catchUp(generationId: string, tracked: Tracked, texts: readonly string[], held: readonly GenerationEvent[]): GenerationEvent[] {
    const out: GenerationEvent[] = [];
    const heldDeltas = new Map<number, string[]>();
    for (const event of held) if (event.type === 'delta') heldDeltas.set(event.sequence, [...(heldDeltas.get(event.sequence) ?? []), event.text]);
    const sequences = Math.max(texts.length, ...[...heldDeltas.keys()].map((s) => s + 1));
    for (let sequence = 0; sequence < sequences; sequence += 1) {
      const delivered = tracked.texts[sequence] ?? '';
      const server = texts[sequence] ?? '';
      const live = heldDeltas.get(sequence) ?? [];
      if (!server.startsWith(delivered)) {
        for (const text of live) out.push({ type: 'delta', generationId, sequence, text });
        continue;
      }
      const included = includedRun(server, delivered.length, live);
      if (server.length > delivered.length) out.push({ type: 'delta', generationId, sequence, text: server.slice(delivered.length) });
      for (const text of live.slice(included)) out.push({ type: 'delta', generationId, sequence, text });
    }
    for (const event of held) if (event.type !== 'delta' && !(event.type === 'started' && tracked.started)) out.push(event);
    return out;
  }

  #note(generationId: string, tracked: Tracked, event: GenerationEvent): void {
    if (event.type === 'started') tracked.started = true;
    else if (event.type === 'delta') tracked.texts[event.sequence] = (tracked.texts[event.sequence] ?? '') + event.text;
    else {
      this.#running.delete(generationId);
      this.#finished.add(generationId);
      if (this.#finished.size > maxFinished) this.#finished.delete(this.#finished.values().next().value as string);
    }
  }

  #add(generationId: string): Tracked {
    const tracked: Tracked = { started: false, texts: [], held: null };
    this.#running.set(generationId, tracked);
    // Another window's generations arrive here too; keep the newest.
    if (this.#running.size > maxTracked) this.#running.delete(this.#running.keys().next().value as string);
    return tracked;
  }
}

/** How many of the `live` deltas (from the first) already end `server`, beyond its first `floor` characters. */
function includedRun(server: string, floor: number, live: readonly string[]): number {
  let joined = live.join('');
  for (let count = live.length; count > 0; count -= 1) {
    if (server.length - joined.length >= floor && server.endsWith(joined)) return count;
    joined = joined.slice(0, joined.length - (live[count - 1]?.length ?? 0));
  }
  return 0;
}
