import { afterEach, describe, expect, it, vi } from 'vitest';
import { InferenceClient, type InferenceStateChange } from '../../../src/main/inference/client';
import { ApiError, GenerationParams } from '../../../src/shared/api';
import { FakeEngine, createFakeSpawner, type FakeSpawnerOptions } from '../../helpers/fake-engine';

const params = GenerationParams.parse({ numReturnSequences: 2, seed: 11 });
const generateArgs = { modelId: 'tiny', prompt: 'Once upon', memory: '', params };
const clients: InferenceClient[] = [];

function makeClient(
  options: { engine?: () => FakeEngine; timeoutsMs?: Record<string, number>; cancelGraceMs?: number; hangMs?: number; stallMs?: number; process?: FakeSpawnerOptions } = {},
) {
  const spawner = createFakeSpawner(options.engine, options.process);
  const logs: string[] = [];
  const states: InferenceStateChange[] = [];
  const client = new InferenceClient({
    spawn: spawner,
    log: (l) => logs.push(l),
    timeoutsMs: options.timeoutsMs,
    cancelGraceMs: options.cancelGraceMs,
    ...(options.hangMs !== undefined ? { hangMs: options.hangMs } : {}),
    ...(options.stallMs !== undefined ? { stallMs: options.stallMs } : {}),
  });
  client.onStateChange((s) => states.push(s));
  clients.push(client);
  return { client, spawner, logs, states };
}

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('expected a rejection');
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe('InferenceClient', () => {
  it('starts the process only on the first request and reports starting → ready', async () => {
    const { client, spawner, states } = makeClient();
    expect(spawner.spawned).toHaveLength(0);
    expect(client.state.state).toBe('stopped');
    const status = await client.status();
    expect(status.loaded).toEqual([]);
    expect(spawner.spawned).toHaveLength(1);
    expect(states.map((s) => s.state)).toEqual(['starting', 'ready']);
    await client.tokenize('tiny', 'a b');
    expect(spawner.spawned).toHaveLength(1);
  });

  it('streams a generation: onStart once, then deltas per sequence, then the result', async () => {
    const { client } = makeClient();
    const seen: string[] = [];
    const result = await client.generate(generateArgs, {
      onStart: (info) => seen.push(`start seed=${info.seed} n=${info.numSequences}`),
      onDelta: (sequence, text) => seen.push(`${sequence}:${text}`),
    });
    expect(seen).toEqual(['start seed=11 n=2', '0: one', '1: one', '0: two', '1: two', '0: three', '1: three']);
    expect(result.sequences.map((c) => c.text)).toEqual([' one two three', ' one two three']);
    expect(result.seed).toBe(11);
  });

  it('maps engine error kinds to API error kinds', async () => {
    const { client } = makeClient();
    expect((await rejection(client.tokenize('missing', 'x'))).kind).toBe('not_found');
    expect((await rejection(client.importModel('/bad/dir', 'x'))).kind).toBe('invalid_request');
  });

  it('rejects everything in flight with engine_crashed when the process dies, then starts a fresh one', async () => {
    let hold: () => void = () => {};
    const { client, spawner, states } = makeClient({
      engine: () => {
        const engine = new FakeEngine();
        engine.holdAfterFirstDelta = new Promise((resolve) => (hold = resolve));
        return engine;
      },
    });
    const deltas: string[] = [];
    const generation = client.generate(generateArgs, { onDelta: (_, text) => deltas.push(text) });
    const generationError = rejection(generation);
    while (deltas.length === 0) await new Promise((r) => setTimeout(r, 1));
    const tokenizeError = rejection(client.tokenize('tiny', 'still waiting'));
    spawner.spawned[0]?.crash('SIGKILL');
    const [first, second] = await Promise.all([generationError, tokenizeError]);
    expect(first.kind).toBe('engine_crashed');
    expect(first.message).toContain('signal SIGKILL');
    expect(second.kind).toBe('engine_crashed');
    expect(states.at(-1)).toEqual({ state: 'crashed', message: first.message });
    expect(client.state.state).toBe('crashed');
    hold();

    const tokens = await client.tokenize('tiny', 'a b');
    expect(tokens.tokens).toEqual(['a', ' b']);
    expect(spawner.spawned).toHaveLength(2);
    expect(client.state.state).toBe('ready');
  });

  it('explains an exit code as well as a signal', async () => {
    const { client, spawner } = makeClient();
    await client.status();
    const pending = rejection(client.generate(generateArgs, {}, undefined));
    const child = spawner.spawned[0];
    if (!child) throw new Error('no child');
    child.exit(3);
    const error = await pending;
    expect(error.kind).toBe('engine_crashed');
    expect(error.message).toContain('exit code 3');
  });

  it('cancels through an AbortSignal and still resolves the partial result', async () => {
    const { client } = makeClient({ engine: () => new FakeEngine({ pieces: [' a', ' b', ' c', ' d', ' e'], stepMs: 15 }) });
    const controller = new AbortController();
    let deltas = 0;
    const result = await client.generate(generateArgs, {
      onDelta: () => {
        deltas += 1;
        if (deltas === 2) controller.abort();
      },
    }, controller.signal);
    expect(result.sequences.every((c) => c.finishReason === 'cancelled')).toBe(true);
    expect(result.sequences[0]?.text.length).toBeLessThan(' a b c d e'.length);
  });

  it('rejects an aborted generation with cancelled when the process does not stop in time', async () => {
    let hold: () => void = () => {};
    const { client } = makeClient({
      cancelGraceMs: 20,
      engine: () => {
        const engine = new FakeEngine();
        engine.holdAfterFirstDelta = new Promise((resolve) => (hold = resolve));
        return engine;
      },
    });
    const controller = new AbortController();
    const error = rejection(client.generate(generateArgs, { onDelta: () => controller.abort() }, controller.signal));
    expect((await error).kind).toBe('cancelled');
    hold();
  });

  it('gives up on an unanswered request after its timeout', async () => {
    let hold: () => void = () => {};
    const { client } = makeClient({
      timeoutsMs: { generate: 30 },
      engine: () => {
        const engine = new FakeEngine();
        engine.holdAfterFirstDelta = new Promise((resolve) => (hold = resolve));
        return engine;
      },
    });
    const error = await rejection(client.generate(generateArgs));
    expect(error.kind).toBe('internal');
    expect(error.message).toContain('did not answer "generate"');
    hold();
    expect((await client.tokenize('tiny', 'x')).tokens).toEqual(['x']);
  });

  it('drops malformed replies and logs them', async () => {
    const { client, spawner, logs } = makeClient();
    await client.status();
    spawner.spawned[0]?.inject({ seq: 1, surprise: true });
    spawner.spawned[0]?.inject('nonsense');
    expect(logs.filter((l) => l.includes('dropped a reply'))).toHaveLength(2);
    expect((await client.status()).loaded).toEqual([]);
  });

  it('does not start a process just to unload', async () => {
    const { client, spawner } = makeClient();
    await client.unload('tiny');
    expect(spawner.spawned).toHaveLength(0);
  });

  it('close() kills the process, rejects what is in flight, and refuses later requests', async () => {
    let hold: () => void = () => {};
    const { client, spawner } = makeClient({
      engine: () => {
        const engine = new FakeEngine();
        engine.holdAfterFirstDelta = new Promise((resolve) => (hold = resolve));
        return engine;
      },
    });
    let started = false;
    const pending = rejection(client.generate(generateArgs, { onDelta: () => (started = true) }));
    while (!started) await new Promise((r) => setTimeout(r, 1));
    await client.close();
    expect((await pending).kind).toBe('cancelled');
    expect(spawner.spawned[0]?.killed).toBe(true);
    expect(client.state.state).toBe('stopped');
    expect((await rejection(client.status())).kind).toBe('cancelled');
    expect(spawner.spawned).toHaveLength(1);
    hold();
  });

  it('turns a spawner failure into engine_crashed', async () => {
    const client = new InferenceClient({ spawn: () => { throw new Error('entry missing'); } });
    clients.push(client);
    const error = await rejection(client.status());
    expect(error.kind).toBe('engine_crashed');
    expect(error.message).toContain('entry missing');
  });

  it('notices a hung (stopped) process by its missing heartbeat: in-flight work fails, it is killed, the next request gets a new one (fault 3.5)', async () => {
    const { client, spawner, states } = makeClient({ hangMs: 300, process: { heartbeatMs: 50 }, engine: () => new FakeEngine({ pieces: [' a', ' b', ' c'], stepMs: 200 }) });
    const running = client.generate(generateArgs);
    await vi.waitFor(() => expect(states.at(-1)?.state).toBe('ready'));
    const first = spawner.spawned[0];
    first?.stop();
    const error = await rejection(running);
    expect(error.kind).toBe('engine_crashed');
    expect(error.message).toMatch(/stopped responding \(it sent nothing, not even its heartbeat, for \d+ s\)/);
    expect(first?.killSignal).toBe('SIGKILL');
    expect(states.at(-1)).toMatchObject({ state: 'crashed', message: expect.stringContaining('stopped responding') });
    expect((await client.tokenize('tiny', 'x')).tokens).toEqual(['x']);
    expect(spawner.spawned).toHaveLength(2);
  });

  it('keeps a process that beats while a step takes longer than the hang limit', async () => {
    const { client, spawner } = makeClient({ hangMs: 200, process: { heartbeatMs: 40 }, engine: () => new FakeEngine({ pieces: [' slow', ' steps'], stepMs: 500 }) });
    const result = await client.generate(generateArgs);
    expect(result.sequences[0]?.text).toBe(' slow steps');
    expect(spawner.spawned).toHaveLength(1);
  });

  it('replaces a beating process whose generation streams nothing past the stall limit', async () => {
    let hold: () => void = () => {};
    const { client, spawner } = makeClient({
      stallMs: 300,
      process: { heartbeatMs: 40 },
      engine: () => Object.assign(new FakeEngine(), { holdAfterFirstDelta: new Promise<void>((resolve) => (hold = resolve)) }),
    });
    const error = await rejection(client.generate(generateArgs));
    hold();
    expect(error).toMatchObject({ kind: 'engine_crashed', message: expect.stringContaining('a generation made no progress') });
    expect(spawner.spawned[0]?.killSignal).toBe('SIGKILL');
  });

  it('treats a process that speaks another protocol version as crashed, not as a log line (fault 3.5)', async () => {
    const { client, spawner, states } = makeClient({ process: { helloProtocol: 1 } });
    const error = await rejection(client.status());
    expect(error.kind).toBe('engine_crashed');
    expect(error.message).toMatch(/speaks protocol 1, this app speaks \d+ \(a stale build/);
    expect(states.at(-1)?.state).toBe('crashed');
    expect(spawner.spawned[0]?.killed).toBe(true);
  });
});
