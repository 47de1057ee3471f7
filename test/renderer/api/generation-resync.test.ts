/**
 * Fault 3.8 (issue 6), the client half: after the event socket reconnects,
 * the serve-mode client asks the server about every generation it believes
 * is running and delivers what the gap swallowed, so a `done` lost during a
 * reconnect never leaves the UI streaming forever. Driven with a fake socket,
 * a fake fetch and a fake `generate.get`.
 */
import { describe, expect, it, vi } from 'vitest';
import type { GenerationEvent, GenerationResult, GenerationState, ServerEvent } from '../../../src/shared/api';
import { GenerationTracker } from '../../../src/renderer/src/api/generation-resync';
import { createHttpApi, type FetchLike, type SocketLike } from '../../../src/renderer/src/api/http-client';
import type { ConnectionState } from '../../../src/renderer/src/api/client';
import type { BatchState } from '../../../src/shared/batch';

const started = { modelId: 'tiny', device: 'cpu' as const, precision: 'fp32' as const, seed: 9, promptTokens: 3, truncatedPromptTokens: 0, numSequences: 2 };

function result(texts: string[]): GenerationResult {
  return {
    generationId: 'g1',
    modelId: 'tiny',
    device: 'cpu',
    precision: 'fp32',
    seed: 9,
    promptTokens: 3,
    truncatedPromptTokens: 0,
    sequences: texts.map((text) => ({ text, tokenIds: [], finishReason: 'length' as const })),
    timings: { loadMs: 1, prefillMs: 1, decodeMs: 1, tokensPerSecond: 10 },
    historyId: 5,
  };
}

const delta = (sequence: number, text: string): GenerationEvent => ({ type: 'delta', generationId: 'g1', sequence, text });

/** The text each sequence has after `events`, as the candidates panel builds it. */
function texts(events: readonly GenerationEvent[]): string[] {
  const out: string[] = [];
  for (const e of events) if (e.type === 'delta') out[e.sequence] = (out[e.sequence] ?? '') + e.text;
  return out;
}

describe('GenerationTracker', () => {
  it('turns a snapshot of a running generation into the deltas that were missed, without repeating held ones it already contains', () => {
    const tracker = new GenerationTracker();
    tracker.track('g1');
    const seen = [...tracker.observe({ type: 'started', generationId: 'g1', ...started }), ...tracker.observe(delta(0, ' The')), ...tracker.observe(delta(1, ' A'))];
    tracker.beginResync('g1');
    // Live deltas on the new socket, held while generate.get is out: the first is already in the snapshot, the second is newer.
    expect(tracker.observe(delta(0, ' sea'))).toEqual([]);
    expect(tracker.observe(delta(0, ' rose'))).toEqual([]);
    const caughtUp = tracker.finishResync('g1', { generationId: 'g1', status: 'running', texts: [' The tide and sea', ' A bell'], started });
    const all = [...seen, ...caughtUp];
    expect(texts(all)).toEqual([' The tide and sea rose', ' A bell']);
    expect(all.filter((e) => e.type === 'started')).toHaveLength(1);
    expect(tracker.runningIds()).toEqual(['g1']);
  });

  it('delivers a done the gap swallowed, once, and drops the live one that may follow', () => {
    const tracker = new GenerationTracker();
    tracker.track('g1');
    tracker.observe(delta(0, ' x'));
    tracker.beginResync('g1');
    const out = tracker.finishResync('g1', { generationId: 'g1', status: 'done', texts: [' x y'], started, result: result([' x y']) });
    expect(out.map((e) => e.type)).toEqual(['started', 'done']);
    expect(tracker.runningIds()).toEqual([]);
    expect(tracker.observe({ type: 'done', generationId: 'g1', result: result([' x y']) })).toEqual([]);
  });

  it('ends a generation the server cannot account for with an error, unless its end arrived live meanwhile', () => {
    const lost = new GenerationTracker();
    lost.track('g1');
    lost.beginResync('g1');
    expect(lost.failResync('g1', { kind: 'internal', message: 'gone' })).toEqual([{ type: 'error', generationId: 'g1', error: { kind: 'internal', message: 'gone' } }]);

    const racing = new GenerationTracker();
    racing.track('g1');
    racing.beginResync('g1');
    const done: GenerationEvent = { type: 'done', generationId: 'g1', result: result([' y']) };
    racing.observe(done);
    expect(racing.failResync('g1', { kind: 'internal', message: 'gone' })).toEqual([done]);
  });

  it('passes events through untouched when nothing was lost', () => {
    const tracker = new GenerationTracker();
    const events: GenerationEvent[] = [{ type: 'started', generationId: 'g1', ...started }, delta(0, ' a'), { type: 'done', generationId: 'g1', result: result([' a']) }];
    expect(events.flatMap((e) => tracker.observe(e))).toEqual(events);
    expect(tracker.runningIds()).toEqual([]);
  });
});

/** A socket the test opens, feeds and drops by hand. */
class FakeSocket implements SocketLike {
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: unknown) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  closed = false;
  open(): void {
    this.onopen?.({});
  }
  send(event: ServerEvent): void {
    this.onmessage?.({ data: JSON.stringify(event) });
  }
  drop(): void {
    this.closed = true;
    this.onclose?.({});
  }
  close(): void {
    this.closed = true;
  }
}

function makeClient(snapshot: (id: string) => Promise<GenerationState>) {
  const sockets: FakeSocket[] = [];
  const fetch: FetchLike = async (url) => ({
    status: 200,
    json: async () => (url.endsWith('/generate.start') ? { result: { generationId: 'g1' } } : { result: {} }),
  });
  const fetchGenerationState = vi.fn(snapshot);
  const client = createHttpApi({
    baseUrl: 'http://127.0.0.1:1',
    fetch,
    createSocket: () => {
      const socket = new FakeSocket();
      sockets.push(socket);
      return socket;
    },
    initialReconnectMs: 1,
    maxReconnectMs: 5,
    fetchGenerationState,
  });
  const received: GenerationEvent[] = [];
  const states: ConnectionState[] = [];
  client.subscribe((event) => event.channel === 'generation' && received.push(event.event));
  client.onConnectionChange?.((state) => states.push(state));
  return { client, sockets, received, states, fetchGenerationState };
}

describe('createHttpApi after a reconnect', () => {
  it('a done lost while the socket was down is delivered after it reconnects, so the UI does not stream forever', async () => {
    const { client, sockets, received, states, fetchGenerationState } = makeClient(async (id) => ({ generationId: id, status: 'done', texts: [' one two'], started, result: result([' one two']) }));
    sockets[0]!.open();
    await client.call('generate.start', { modelId: 'tiny', prompt: 'p', params: {} });
    sockets[0]!.send({ channel: 'generation', event: { type: 'started', generationId: 'g1', ...started } });
    sockets[0]!.send({ channel: 'generation', event: delta(0, ' one') });
    sockets[0]!.drop();
    expect(states).toEqual(['reconnecting']);
    await vi.waitFor(() => expect(sockets).toHaveLength(2));
    sockets[1]!.open();
    await vi.waitFor(() => expect(received.at(-1)?.type).toBe('done'));
    expect(states).toEqual(['reconnecting', 'connected']);
    expect(fetchGenerationState).toHaveBeenCalledWith('g1');
    // The server's own done, should it arrive after all, is not delivered a second time.
    sockets[1]!.send({ channel: 'generation', event: { type: 'done', generationId: 'g1', result: result([' one two']) } });
    expect(received.filter((e) => e.type === 'done')).toHaveLength(1);
  });

  it('ends the generation with a clear error when the server no longer knows it', async () => {
    const { client, sockets, received } = makeClient(async () => {
      throw Object.assign(new Error('no generation g1'), { kind: 'not_found' });
    });
    sockets[0]!.open();
    await client.call('generate.start', { modelId: 'tiny', prompt: 'p', params: {} });
    sockets[0]!.drop();
    await vi.waitFor(() => expect(sockets).toHaveLength(2));
    sockets[1]!.open();
    await vi.waitFor(() => expect(received.at(-1)?.type).toBe('error'));
    const last = received.at(-1) as Extract<GenerationEvent, { type: 'error' }>;
    expect(last.error.message).toMatch(/connection to the server was lost/);
  });

  it('asks about nothing after the first connection, and nothing about finished generations', async () => {
    const { client, sockets, fetchGenerationState } = makeClient(async (id) => ({ generationId: id, status: 'running', texts: [] }));
    sockets[0]!.open();
    await client.call('generate.start', { modelId: 'tiny', prompt: 'p', params: {} });
    sockets[0]!.send({ channel: 'generation', event: { type: 'done', generationId: 'g1', result: result(['x']) } });
    sockets[0]!.drop();
    await vi.waitFor(() => expect(sockets).toHaveLength(2));
    sockets[1]!.open();
    await new Promise((r) => setTimeout(r, 10));
    expect(fetchGenerationState).not.toHaveBeenCalled();
  });
});

describe('createHttpApi events', () => {
  it('passes on the channels besides generation and engine (batch progress was dropped)', async () => {
    const { client, sockets } = makeClient(async () => {
      throw new Error('not called');
    });
    const channels: ServerEvent[] = [];
    client.subscribe((event) => channels.push(event));
    sockets[0]!.open();
    const state = { batchId: 'b1', status: 'running', modelId: 'tiny', precision: 'auto', promptsName: 'p.txt', outPath: '/r.jsonl', total: 3, done: 1, alreadyDone: 0, skipped: 0, badRows: [], tokens: 4, tokensPerSecond: 2, concurrency: 2, startedAt: '2026-12-02T00:00:00.000Z' } satisfies BatchState;
    sockets[0]!.send({ channel: 'batch', state });
    await vi.waitFor(() => expect(channels).toEqual([{ channel: 'batch', state }]));
  });
});
