/**
 * `inkwell serve`'s OpenAI-compatible /v1 routes, driven by the official `openai` client against
 * the real inference process and a random tiny model; and a second serve-mode back end in the same
 * test using the first as a remote engine (generate, stream, cancel, history).
 */
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runCli } from '../../../src/main/cli/run';
import { startServe, type ServeHandle } from '../../../src/main/serve';
import { createHttpApi, type SocketLike } from '../../../src/renderer/src/api/http-client';
import { GenerationParams, type GenerationEvent, type InkwellApi, type ServerEvent } from '../../../src/shared/api';
import { remoteKeyVariable } from '../../../src/shared/remote-engines';
import { buildInferenceProcess } from '../../helpers/build-inference-process';
import { makeRandomCheckpoint } from '../../helpers/checkpoint-factory';
import { useTempDirs } from '../../helpers/tmp';
import { makeRenderer } from './fixtures';

const tempDir = useTempDirs('inkwell-openai-serve-');
let built: Awaited<ReturnType<typeof buildInferenceProcess>>;
let serve: ServeHandle;
let client: OpenAI;
let api: InkwellApi;

function apiFor(origin: string, token: string): InkwellApi {
  const cookie = `inkwell_token=${token}`;
  return createHttpApi({
    baseUrl: origin,
    fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, Cookie: cookie } }),
    createSocket: (url) => new WebSocket(url, { headers: { Origin: origin, Cookie: cookie } }) as unknown as SocketLike,
  });
}

async function startWithModel(): Promise<{ serve: ServeHandle; api: InkwellApi; home: string }> {
  const home = tempDir();
  const started = await startServe({ port: 0, host: '127.0.0.1', home, rendererDir: makeRenderer(tempDir()), log: () => {}, inferenceEntry: built.entry });
  return { serve: started, api: apiFor(started.origin, started.token), home };
}

beforeAll(async () => {
  built = await buildInferenceProcess();
  const checkpoint = join(tempDir(), 'ckpt');
  await makeRandomCheckpoint(checkpoint, { nLayer: 1, nEmbd: 16, nHead: 2, nPositions: 128, seed: 9 });
  ({ serve, api } = await startWithModel());
  await api.call('models.import', { path: checkpoint, id: 'tiny' });
  client = new OpenAI({ apiKey: serve.token, baseURL: `${serve.origin}/v1`, maxRetries: 0 });
}, 120_000);

afterAll(async () => {
  await serve?.close();
  built?.remove();
});

describe('inkwell serve /v1 with the openai client', () => {
  it('lists the stored models with their context window', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['tiny']);
    expect(models.data[0]).toMatchObject({ object: 'model', owned_by: 'inkwell', max_model_len: 128 });
  });

  it('answers n candidates, the same for the same seed, and a stop string ends the text before it', async () => {
    const request = { model: 'tiny', prompt: 'The lighthouse keeper', max_tokens: 8, n: 2, seed: 5, temperature: 1, top_p: 1 } as const;
    const first = await client.completions.create(request);
    expect(first.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(first.usage?.completion_tokens).toBeGreaterThan(0);
    expect((await client.completions.create(request)).choices.map((c) => c.text)).toEqual(first.choices.map((c) => c.text));

    const greedy = await client.completions.create({ model: 'tiny', prompt: 'Once upon', max_tokens: 10, temperature: 0 });
    const text = greedy.choices[0]?.text ?? '';
    expect(text.length).toBeGreaterThan(3);
    // A stop string taken from the middle of the greedy text: the same greedy run must end just before it.
    const stop = text.slice(Math.floor(text.length / 2), Math.floor(text.length / 2) + 2);
    const stopped = await client.completions.create({ model: 'tiny', prompt: 'Once upon', max_tokens: 10, temperature: 0, stop: [stop] });
    expect(stopped.choices[0]?.text).toBe(text.slice(0, text.indexOf(stop)));
    expect(stopped.choices[0]?.finish_reason).toBe('stop');
  });

  it('streams the same text it answers whole, ending with [DONE]', async () => {
    const request = { model: 'tiny', prompt: 'Dear reader,', max_tokens: 6, n: 2, seed: 11 } as const;
    const whole = await client.completions.create(request);
    const texts = ['', ''];
    const finish: (string | null)[] = [null, null];
    const stream = await client.completions.create({ ...request, stream: true });
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        texts[choice.index] += choice.text;
        if (choice.finish_reason) finish[choice.index] = choice.finish_reason;
      }
    }
    expect(texts).toEqual(whole.choices.map((c) => c.text));
    expect(finish.every((f) => f === 'length' || f === 'stop')).toBe(true);
  });

  it('returns logprobs with the top alternatives in the completions format, streamed and not', async () => {
    const request = { model: 'tiny', prompt: 'The lighthouse', max_tokens: 6, temperature: 0, logprobs: 3, ...({ repetition_penalty: 1 } as object) } as const;
    const whole = await client.completions.create(request);
    const choice = whole.choices[0];
    const logprobs = choice?.logprobs;
    if (!choice || !logprobs?.tokens || !logprobs.token_logprobs || !logprobs.top_logprobs) throw new Error(`no logprobs: ${JSON.stringify(choice)}`);
    expect(logprobs.tokens).toHaveLength(whole.usage?.completion_tokens ?? -1);
    expect(logprobs.tokens.join('')).toBe(choice.text);
    for (const [i, top] of logprobs.top_logprobs.entries()) {
      const alternatives = Object.entries(top ?? {});
      expect(alternatives).toHaveLength(3);
      // Greedy with no penalty picks the likeliest token: it is the best alternative, with the same log-probability.
      const best = alternatives.reduce((a, b) => (b[1] > a[1] ? b : a));
      expect(best[0]).toBe(logprobs.tokens[i]);
      expect(logprobs.token_logprobs[i]).toBeCloseTo(best[1], 5);
      expect(logprobs.token_logprobs[i]).toBeLessThanOrEqual(0);
    }
    const streamed: string[] = [];
    const streamedLogprobs: (number | null)[] = [];
    for await (const chunk of await client.completions.create({ ...request, stream: true })) {
      for (const c of chunk.choices) {
        streamed.push(c.text);
        streamedLogprobs.push(...(c.logprobs?.token_logprobs ?? []));
      }
    }
    expect(streamed.join('')).toBe(choice.text);
    expect(streamedLogprobs).toEqual(logprobs.token_logprobs);
  });

  it('refuses a wrong key with 401 and a bad body with 400, as OpenAI error objects', async () => {
    const wrong = new OpenAI({ apiKey: 'not-the-token', baseURL: `${serve.origin}/v1`, maxRetries: 0 });
    await expect(wrong.completions.create({ model: 'tiny', prompt: 'x' })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(client.completions.create({ model: 'tiny', prompt: 'x', max_tokens: -3 })).rejects.toMatchObject({ status: 400, type: 'invalid_request_error' });
    await expect(client.completions.create({ model: 'no-such-model', prompt: 'x' })).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    const raw = await fetch(`${serve.origin}/v1/completions`, { method: 'POST', headers: { Authorization: `Bearer ${serve.token}`, 'Content-Type': 'application/json' }, body: '{"model": "tiny", "prompt": ' });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.any(String) } });
  });
});

describe('a second Inkwell using this one as a remote engine', () => {
  let second: { serve: ServeHandle; api: InkwellApi; home: string };
  beforeAll(async () => {
    process.env[remoteKeyVariable('desk')] = serve.token;
    second = await startWithModel();
    await second.api.call('remoteEngines.save', { engine: { name: 'desk', baseUrl: serve.origin } });
  }, 60_000);
  afterAll(async () => {
    delete process.env[remoteKeyVariable('desk')];
    await second?.serve.close();
  });

  async function run(start: () => Promise<{ generationId: string }>, onDelta?: (id: string) => void): Promise<GenerationEvent[]> {
    const events: GenerationEvent[] = [];
    const socket = new WebSocket(`${second.serve.origin.replace('http', 'ws')}/api/events`, { headers: { Origin: second.serve.origin, Cookie: `inkwell_token=${second.serve.token}` } });
    let id = '';
    socket.on('message', (data) => {
      const event = JSON.parse(String(data)) as ServerEvent;
      if (event.channel !== 'generation') return;
      events.push(event.event);
      if (event.event.type === 'delta' && event.event.generationId === id) onDelta?.(id);
    });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    ({ generationId: id } = await start());
    for (let i = 0; i < 3000; i += 1) {
      const last = events.filter((e) => e.generationId === id).at(-1);
      if (last?.type === 'done' || last?.type === 'error') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    socket.close();
    return events.filter((e) => e.generationId === id);
  }

  it('lists the remote models, says where the key comes from, and generates n candidates into history', async () => {
    const listed = await second.api.call('remoteEngines.list', {});
    expect(listed.engines[0]).toMatchObject({ name: 'desk', hasApiKey: true, keySource: 'environment', keyVariable: 'INKWELL_REMOTE_KEY_DESK' });
    expect(listed.keyStorage.canStore).toBe(false);
    expect(await second.api.call('remoteEngines.test', { name: 'desk' })).toMatchObject({ ok: true, serverKind: 'inkwell', models: ['tiny'] });
    expect((await second.api.call('remoteEngines.models', {})).models.map((m) => m.id)).toEqual(['remote:desk/tiny']);

    const params = GenerationParams.parse({ maxNewTokens: 6, numReturnSequences: 2, seed: 3 });
    const events = await run(() => second.api.call('generate.start', { modelId: 'remote:desk/tiny', prompt: 'Once upon a time', params }));
    const done = events.at(-1);
    if (done?.type !== 'done') throw new Error(`expected done, got ${JSON.stringify(done)}`);
    // The same seed on the serving Inkwell itself gives the same candidates.
    const direct = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 6, n: 2, seed: 3, temperature: params.temperature, top_p: params.topP,
      // Inkwell's own sampling fields, which the openai client's types do not name.
      ...({ top_k: params.topK, repetition_penalty: params.repetitionPenalty } as object) });
    expect(done.result.sequences.map((s) => s.text)).toEqual(direct.choices.map((c) => c.text));
    const streamed = ['', ''];
    for (const e of events) if (e.type === 'delta') streamed[e.sequence] += e.text;
    expect(streamed).toEqual(done.result.sequences.map((s) => s.text));
    expect(done.result).toMatchObject({ device: 'remote', precision: null, seed: 3 });
    const entry = await second.api.call('history.get', { id: done.result.historyId });
    expect(entry).toMatchObject({ modelId: 'remote:desk/tiny', device: 'remote', prompt: 'Once upon a time' });
    expect(entry.candidates.map((c) => c.text)).toEqual(streamed);
  });

  it('cancel keeps what was streamed and saves it', async () => {
    const params = GenerationParams.parse({ maxNewTokens: 100, numReturnSequences: 1, seed: 4 });
    let cancelled = false;
    const events = await run(
      () => second.api.call('generate.start', { modelId: 'remote:desk/tiny', prompt: 'Long ago', params }),
      (id) => {
        if (cancelled) return;
        cancelled = true;
        void second.api.call('generate.cancel', { generationId: id });
      },
    );
    const done = events.at(-1);
    if (done?.type !== 'done') throw new Error(`expected done, got ${JSON.stringify(done)}`);
    expect(done.result.sequences[0]?.finishReason).toBe('cancelled');
    const streamed = events.flatMap((e) => (e.type === 'delta' ? [e.text] : [])).join('');
    expect(done.result.sequences[0]?.text).toBe(streamed);
    expect((await second.api.call('history.get', { id: done.result.historyId })).candidates[0]?.text).toBe(streamed);
  });

  it('the CLI generates on the remote model of its data folder\'s Settings, with the key from the environment', async () => {
    let stdout = '';
    let stderr = '';
    const io = { stdout: (t: string) => void (stdout += t), stderr: (t: string) => void (stderr += t), interrupt: new AbortController().signal, env: { INKWELL_HOME: second.home, [remoteKeyVariable('desk')]: serve.token } };
    const code = await runCli(['generate', '--model', 'remote:desk/tiny', '--prompt', 'Once upon a time', '--max-new-tokens', '5', '--seed', '3', '--greedy', '--repetition-penalty', '1', '--json'], io);
    expect(code, stderr).toBe(0);
    const printed = JSON.parse(stdout) as { device: string; seed: number; sequences: { text: string }[] };
    const direct = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 5, temperature: 0, ...({ repetition_penalty: 1 } as object) });
    expect(printed).toMatchObject({ device: 'remote', seed: 3 });
    expect(printed.sequences.map((s) => s.text)).toEqual(direct.choices.map((c) => c.text));
    const wrong = await runCli(['generate', '--model', 'remote:nowhere/tiny', '--prompt', 'x'], { ...io, env: { INKWELL_HOME: second.home } });
    expect(wrong).toBe(2);
    expect(stderr).toMatch(/no remote engine named "nowhere"/);
  });

  it('a wrong key is an error that names the engine and says to check the key', async () => {
    process.env[remoteKeyVariable('desk')] = 'wrong-key';
    try {
      const events = await run(() => second.api.call('generate.start', { modelId: 'remote:desk/tiny', prompt: 'x', params: GenerationParams.parse({ maxNewTokens: 2 }) }));
      const last = events.at(-1);
      expect(last).toMatchObject({ type: 'error', error: { kind: 'refused', message: expect.stringMatching(/remote engine "desk".*refused the API key/) } });
    } finally {
      process.env[remoteKeyVariable('desk')] = serve.token;
    }
  });
});
