/**
 * The /v1 routes mounted in a plain node:http server over a scripted port,
 * driven by the official `openai` client (the reference the issue names):
 * models, completions streamed and not, n > 1, several prompts, logprobs,
 * echo, stop strings, best_of, bad keys, bad bodies, a full queue (429 +
 * Retry-After), disconnects that abort the generation, and shutdown.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineError } from '../../../../src/main/engine/types';
import { FairQueue } from '../../../../src/main/transports/openai/fair-queue';
import { createOpenAiRoutes, type OpenAiRoutes, type OpenAiRoutesOptions } from '../../../../src/main/transports/openai/routes';
import { ScriptedCompletionsPort, scriptedLogprob } from '../../../helpers/scripted-completions-port';

const TOKEN = 'serve-token-123';

interface Mounted {
  port: ScriptedCompletionsPort;
  routes: OpenAiRoutes;
  baseURL: string;
  client: OpenAI;
  logs: string[];
}

const servers: Server[] = [];
const allRoutes: OpenAiRoutes[] = [];
afterEach(async () => {
  await Promise.all(allRoutes.splice(0).map((r) => r.close()));
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

async function mount(options: Partial<OpenAiRoutesOptions> & { port?: ScriptedCompletionsPort } = {}): Promise<Mounted> {
  const port = options.port ?? new ScriptedCompletionsPort();
  const logs: string[] = [];
  const routes = createOpenAiRoutes({ authorize: (token) => token === TOKEN, log: (line) => logs.push(line), ...options, port });
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    if (routes.owns(path)) void routes.handle(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  allRoutes.push(routes);
  const baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return { port, routes, baseURL, client: new OpenAI({ apiKey: TOKEN, baseURL, maxRetries: 0 }), logs };
}

/** Collects a stream's text per choice index and its finish reasons. */
async function drain(stream: AsyncIterable<OpenAI.Completion>) {
  const texts: Record<number, string> = {};
  const finish: Record<number, string | null> = {};
  const chunks: OpenAI.Completion[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
    for (const choice of chunk.choices) {
      texts[choice.index] = (texts[choice.index] ?? '') + choice.text;
      if (choice.finish_reason) finish[choice.index] = choice.finish_reason;
    }
  }
  return { texts, finish, chunks };
}

describe('/v1 routes with the openai client', () => {
  it('lists the models and retrieves one, with the context length as vLLM reports it', async () => {
    const { client } = await mount();
    const page = await client.models.list();
    expect(page.data.map((m) => m.id)).toEqual(['gpt2']);
    expect(page.data[0]).toMatchObject({ object: 'model', owned_by: 'inkwell', created: 1_700_000_000, max_model_len: 1024 });
    const one = await client.models.retrieve('gpt2');
    expect(one.id).toBe('gpt2');
    await expect(client.models.retrieve('nope')).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
  });

  it('completes without streaming: text_completion object, usage, and OpenAI defaults mapped to the sampler', async () => {
    const { client, port } = await mount();
    const completion = await client.completions.create({ model: 'gpt2', prompt: 'Once upon', max_tokens: 3 });
    expect(completion.object).toBe('text_completion');
    expect(completion.id).toMatch(/^cmpl-[0-9a-f]{32}$/);
    expect(completion.model).toBe('gpt2');
    expect(completion.choices).toEqual([{ index: 0, text: ' cand0 beta gamma', logprobs: null, finish_reason: 'length' }]);
    expect(completion.usage).toEqual({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
    // OpenAI's defaults, not Inkwell's UI defaults: temperature 1, no top-k, no nucleus, no repetition penalty.
    expect(port.jobs[0]?.params).toMatchObject({ maxNewTokens: 3, numReturnSequences: 1, doSample: true, temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, stop: [] });
    expect(port.jobs[0]?.logprobs).toBeNull();
  });

  it('treats temperature 0 as greedy decoding and passes top_k, top_p, repetition_penalty and seed through', async () => {
    const { client, port } = await mount();
    await client.completions.create({ model: 'gpt2', prompt: 'x', max_tokens: 2, temperature: 0, top_p: 0.9, seed: 7, top_k: 40, repetition_penalty: 1.2 } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(port.jobs[0]?.params).toMatchObject({ doSample: false, topK: 40, topP: 0.9, repetitionPenalty: 1.2, seed: 7 });
    await client.completions.create({ model: 'gpt2', prompt: 'x', max_tokens: 2, temperature: 0.7, top_k: -1 } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(port.jobs[1]?.params).toMatchObject({ doSample: true, temperature: 0.7, topK: 0 });
  });

  it('uses the first model when the request names none', async () => {
    const port = new ScriptedCompletionsPort({ models: [{ id: 'gpt2-large', created: 1, ownedBy: 'inkwell' }, { id: 'gpt2', created: 1, ownedBy: 'inkwell' }] });
    const { baseURL } = await mount({ port });
    const res = await fetch(`${baseURL}/completions`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ prompt: 'x', max_tokens: 1 }) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe('gpt2-large');
    expect(port.jobs[0]?.modelId).toBe('gpt2-large');
  });

  it('streams server-sent events that add up to the same text, ending with a finish reason and usage', async () => {
    const { client, baseURL } = await mount();
    const whole = await client.completions.create({ model: 'gpt2', prompt: 'Once upon', max_tokens: 5, seed: 1 });
    const stream = await client.completions.create({ model: 'gpt2', prompt: 'Once upon', max_tokens: 5, seed: 1, stream: true, stream_options: { include_usage: true } });
    const { texts, finish, chunks } = await drain(stream);
    expect(texts[0]).toBe(whole.choices[0]?.text);
    expect(finish[0]).toBe('length');
    expect(chunks.length).toBeGreaterThan(3);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual(whole.usage);

    // The raw bytes: SSE framing and the [DONE] sentinel.
    const raw = await fetch(`${baseURL}/completions`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ model: 'gpt2', prompt: 'x', max_tokens: 2, stream: true }) });
    expect(raw.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const body = await raw.text();
    expect(body.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(body.split('\n\n').filter(Boolean).every((event) => event.startsWith('data: '))).toBe(true);
  });

  it('returns n choices per prompt, numbered prompt by prompt, streamed and not', async () => {
    const { client, port } = await mount();
    const completion = await client.completions.create({ model: 'gpt2', prompt: ['A', 'B c'], n: 3, max_tokens: 2 });
    expect(completion.choices.map((c) => c.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(completion.choices.map((c) => c.text)).toEqual([' cand0 beta', ' cand1 beta', ' cand2 beta', ' cand0 beta', ' cand1 beta', ' cand2 beta']);
    expect(port.jobs.map((j) => [j.prompt, j.params.numReturnSequences])).toEqual([['A', 3], ['B c', 3]]);
    expect(completion.usage).toEqual({ prompt_tokens: 1 + 2, completion_tokens: 12, total_tokens: 15 });

    const { texts, finish } = await drain(await client.completions.create({ model: 'gpt2', prompt: ['A', 'B c'], n: 3, max_tokens: 2, stream: true }));
    expect(Object.keys(texts).map(Number).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(texts[4]).toBe(' cand1 beta');
    expect(Object.values(finish)).toEqual(Array(6).fill('length'));
  });

  it('ends a choice before a stop string with finish_reason "stop", streamed and not', async () => {
    const { client, port } = await mount();
    const completion = await client.completions.create({ model: 'gpt2', prompt: 'x', max_tokens: 10, stop: '\n', n: 2 });
    expect(port.jobs[0]?.params.stop).toEqual(['\n']);
    expect(completion.choices.map((c) => [c.text, c.finish_reason])).toEqual([
      [' cand0 beta gamma', 'stop'],
      [' cand1 beta gamma', 'stop'],
    ]);
    const { texts, finish } = await drain(await client.completions.create({ model: 'gpt2', prompt: 'x', max_tokens: 10, stop: [' gam', 'zzz'], stream: true }));
    expect(texts[0]).toBe(' cand0 beta');
    expect(finish[0]).toBe('stop');
  });

  it('returns logprobs in the completions format: tokens, token_logprobs, top_logprobs and text offsets after the prompt', async () => {
    const { client, port } = await mount();
    const prompt = 'Héllo 👋';
    const completion = await client.completions.create({ model: 'gpt2', prompt, max_tokens: 3, logprobs: 2 });
    expect(port.jobs[0]?.logprobs).toBe(2);
    const logprobs = completion.choices[0]?.logprobs;
    expect(logprobs?.tokens).toEqual([' cand0', ' beta', ' gamma']);
    expect(logprobs?.token_logprobs).toEqual([0, 1, 2].map((step) => scriptedLogprob(0, step)));
    expect(logprobs?.top_logprobs?.[1]).toEqual({ ' beta': scriptedLogprob(0, 1), ' alt0': scriptedLogprob(0, 1) - 1 });
    // Offsets count code points from the start of the prompt: 'Héllo 👋' is 7 of them (8 UTF-16 units).
    expect(logprobs?.text_offset).toEqual([7, 7 + 6, 7 + 6 + 5]);

    const { chunks } = await drain(await client.completions.create({ model: 'gpt2', prompt, max_tokens: 3, logprobs: 2, stream: true }));
    const streamed = chunks.flatMap((c) => c.choices.flatMap((choice) => choice.logprobs?.tokens ?? []));
    const offsets = chunks.flatMap((c) => c.choices.flatMap((choice) => choice.logprobs?.text_offset ?? []));
    expect(streamed).toEqual(logprobs?.tokens);
    expect(offsets).toEqual(logprobs?.text_offset);
  });

  it('echoes the prompt with its logprobs (the first token has none), and scores a prompt with max_tokens 0', async () => {
    const { client, port } = await mount();
    const completion = await client.completions.create({ model: 'gpt2', prompt: 'The cat', max_tokens: 1, echo: true, logprobs: 1 });
    expect(port.jobs[0]?.promptLogprobs).toBe(true);
    const choice = completion.choices[0];
    expect(choice?.text).toBe('The cat cand0');
    expect(choice?.logprobs?.tokens).toEqual(['The', ' cat', ' cand0']);
    expect(choice?.logprobs?.token_logprobs?.[0]).toBeNull();
    expect(choice?.logprobs?.top_logprobs?.[0]).toBeNull();
    expect(choice?.logprobs?.text_offset).toEqual([0, 3, 7]);

    const scored = await client.completions.create({ model: 'gpt2', prompt: 'The cat', max_tokens: 0, echo: true, logprobs: 0 });
    expect(scored.choices[0]).toMatchObject({ text: 'The cat', finish_reason: 'length' });
    expect(scored.choices[0]?.logprobs?.tokens).toEqual(['The', ' cat']);
    expect(scored.usage).toEqual({ prompt_tokens: 2, completion_tokens: 0, total_tokens: 2 });
    // One token is decoded and dropped, as vLLM does for echo without generation.
    expect(port.jobs[1]?.params.maxNewTokens).toBe(1);

    const { texts } = await drain(await client.completions.create({ model: 'gpt2', prompt: 'The cat', max_tokens: 2, echo: true, stream: true }));
    expect(texts[0]).toBe('The cat cand0 beta');
  });

  it('best_of generates more candidates and returns the n with the highest mean logprob, without logprobs unless asked', async () => {
    const { client, port } = await mount();
    // Candidate 0 has the highest logprobs in the script; ask in an order that would show a mix-up.
    const completion = await client.completions.create({ model: 'gpt2', prompt: 'x', max_tokens: 2, n: 2, best_of: 4 });
    expect(port.jobs[0]?.params.numReturnSequences).toBe(4);
    expect(port.jobs[0]?.logprobs).toBe(0);
    expect(completion.choices.map((c) => [c.index, c.text, c.logprobs])).toEqual([
      [0, ' cand0 beta', null],
      [1, ' cand1 beta', null],
    ]);
  });

  it('answers 401 in the OpenAI format for a wrong or missing key, and never looks at cookies', async () => {
    const { baseURL, port } = await mount();
    const wrong = new OpenAI({ apiKey: 'not-the-token', baseURL, maxRetries: 0 });
    await expect(wrong.completions.create({ model: 'gpt2', prompt: 'x' })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(wrong.models.list()).rejects.toMatchObject({ status: 401, code: 'invalid_api_key', type: 'invalid_request_error' });
    const cookie = await fetch(`${baseURL}/models`, { headers: { Cookie: `inkwell_token=${TOKEN}` } });
    expect(cookie.status).toBe(401);
    expect(cookie.headers.get('www-authenticate')).toBe('Bearer');
    expect(await cookie.json()).toEqual({ error: { message: expect.stringContaining('Authorization: Bearer'), type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
    expect(port.jobs).toHaveLength(0);
  });

  it('answers 400 naming the field for a bad body, and 404 model_not_found for an unknown model', async () => {
    const { client, baseURL, port } = await mount();
    await expect(client.completions.create({ model: 'gpt2', prompt: 'x', temperature: 99 })).rejects.toMatchObject({ status: 400, param: 'temperature', type: 'invalid_request_error' });
    await expect(client.completions.create({ model: 'gpt2', prompt: 'x', n: 99 })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(client.completions.create({ model: 'gpt2', prompt: 'x', presence_penalty: 0.5 })).rejects.toMatchObject({ status: 400, param: 'presence_penalty', code: 'unsupported_parameter' });
    await expect(client.completions.create({ model: 'gpt2', prompt: [1, 2, 3] })).rejects.toMatchObject({ status: 400, param: 'prompt', message: expect.stringContaining('token ids') });
    await expect(client.completions.create({ model: 'gpt2', prompt: 'x', n: 1, best_of: 2, stream: true })).rejects.toMatchObject({ status: 400, param: 'best_of' });
    await expect(client.completions.create({ model: 'gpt-4', prompt: 'x' })).rejects.toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });
    const notJson = await fetch(`${baseURL}/completions`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' }, body: '{"prompt": ' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { message: string } }).error.message).toMatch(/not valid JSON/);
    const tooBig = await mount({ maxBodyBytes: 1000 });
    const big = await fetch(`${tooBig.baseURL}/completions`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ prompt: 'x'.repeat(2000) }) });
    expect(big.status).toBe(413);
    expect(port.jobs).toHaveLength(0);
  });

  it('logs the fields it ignores by name, and ignores them', async () => {
    const { client, logs, port } = await mount();
    await client.completions.create({ model: 'gpt2', prompt: 'x', max_tokens: 1, mirostat_mode: 2, tfs: 1 } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(port.jobs).toHaveLength(1);
    expect(logs).toContain('openai: ignored request fields: mirostat_mode, tfs');
  });

  it('answers unknown paths, chat completions and wrong methods with OpenAI errors', async () => {
    const { baseURL } = await mount();
    const auth = { Authorization: `Bearer ${TOKEN}` };
    const chat = await fetch(`${baseURL}/chat/completions`, { method: 'POST', headers: auth, body: '{}' });
    expect(chat.status).toBe(404);
    expect(((await chat.json()) as { error: { message: string } }).error.message).toMatch(/\/v1\/completions/);
    expect((await fetch(`${baseURL}/embeddings`, { method: 'POST', headers: auth })).status).toBe(404);
    expect((await fetch(`${baseURL}/completions`, { headers: auth })).status).toBe(405);
  });

  it('answers CORS preflights without a key, so a browser front end can send one', async () => {
    const { baseURL } = await mount();
    const res = await fetch(`${baseURL}/completions`, { method: 'OPTIONS', headers: { Origin: 'null', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type' } });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
  });

  it('a full queue answers 429 with Retry-After at once, and the openai client that retries gets through', async () => {
    const port = new ScriptedCompletionsPort();
    let release!: () => void;
    port.hold = new Promise<void>((resolve) => (release = resolve));
    const { client, baseURL } = await mount({ port, queue: new FairQueue({ maxRunning: 1, maxWaiting: 1, maxWaitingPerClient: 1, initialServiceMs: 900 }) });
    const firstToken = port.nextFirstToken();
    const running = client.completions.create({ model: 'gpt2', prompt: 'one', max_tokens: 2 });
    await firstToken;
    const waiting = client.completions.create({ model: 'gpt2', prompt: 'two', max_tokens: 2 });
    await new Promise((resolve) => setTimeout(resolve, 50));

    const started = Date.now();
    const refused = await client.completions.create({ model: 'gpt2', prompt: 'three', max_tokens: 2 }).catch((error: unknown) => error);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    const rateLimited = refused as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rateLimited.code).toBe('queue_full');
    // Two ahead at ~0.9 s each on one slot.
    expect(rateLimited.headers?.get('retry-after')).toBe('2');
    expect(port.jobs.map((j) => j.prompt)).toEqual(['one']);

    const patient = new OpenAI({ apiKey: TOKEN, baseURL, maxRetries: 3 });
    const retried = patient.completions.create({ model: 'gpt2', prompt: 'four', max_tokens: 2 });
    release();
    port.hold = null;
    await expect(running).resolves.toMatchObject({ choices: [{ text: ' cand0 beta' }] });
    await expect(waiting).resolves.toMatchObject({ choices: [{ text: ' cand0 beta' }] });
    await expect(retried).resolves.toMatchObject({ choices: [{ text: ' cand0 beta' }] });
  });

  it('a client that disconnects mid-stream aborts its generation and frees the slot', async () => {
    const port = new ScriptedCompletionsPort();
    let release!: () => void;
    port.hold = new Promise<void>((resolve) => (release = resolve));
    const { client } = await mount({ port });
    const controller = new AbortController();
    const stream = await client.completions.create({ model: 'gpt2', prompt: 'x', max_tokens: 5, stream: true }, { signal: controller.signal });
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value?.choices[0]?.text).toBe(' cand0');
    controller.abort();
    // The client ends the iteration quietly on abort; the server must notice the closed socket.
    await iterator.next().catch(() => undefined);
    try {
      await expect.poll(() => port.signals[0]?.aborted).toBe(true);
    } finally {
      release();
      port.hold = null;
    }
    // The slot is free again: the next request runs at once.
    await expect(client.completions.create({ model: 'gpt2', prompt: 'y', max_tokens: 1 })).resolves.toMatchObject({ choices: [{ text: ' cand0' }] });
  });

  it('a client that gives up while queued leaves the queue without starting a generation', async () => {
    const port = new ScriptedCompletionsPort();
    let release!: () => void;
    port.hold = new Promise<void>((resolve) => (release = resolve));
    const queue = new FairQueue({ maxRunning: 1, maxWaiting: 4, maxWaitingPerClient: 4 });
    const { client } = await mount({ port, queue });
    const firstToken = port.nextFirstToken();
    const running = client.completions.create({ model: 'gpt2', prompt: 'one', max_tokens: 2 });
    await firstToken;
    const controller = new AbortController();
    const queued = client.completions.create({ model: 'gpt2', prompt: 'two', max_tokens: 2 }, { signal: controller.signal });
    await expect.poll(() => queue.waiting).toBe(1);
    controller.abort();
    await expect(queued).rejects.toThrow();
    await expect.poll(() => queue.waiting).toBe(0);
    release();
    await running;
    expect(port.jobs.map((j) => j.prompt)).toEqual(['one']);
  });

  it('an engine failure before the stream starts is an HTTP error; after it, an error event the client raises', async () => {
    const { client, port } = await mount();
    port.failBeforeStart = new EngineError('not_found', 'model "gpt2" is not installed');
    await expect(client.completions.create({ model: 'gpt2', prompt: 'x', stream: true })).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    port.failBeforeStart = Object.assign(new Error('the inference process exited (signal SIGKILL)'), { kind: 'engine_crashed' });
    await expect(client.completions.create({ model: 'gpt2', prompt: 'x' })).rejects.toMatchObject({ status: 503 });

    port.failAfterFirstToken = new EngineError('device', 'WebGPU device lost');
    const stream = await client.completions.create({ model: 'gpt2', prompt: 'x', max_tokens: 5, stream: true });
    const seen: string[] = [];
    const failure = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.text ?? '');
    })().catch((error: unknown) => error);
    expect(seen).toEqual([' cand0']);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect((failure as Error).message).toMatch(/WebGPU device lost/);
  });

  it('close() stops a running stream with an error event and refuses new requests with 503', async () => {
    const port = new ScriptedCompletionsPort({ stepMs: 20 });
    const { client, routes } = await mount({ port });
    const stream = await client.completions.create({ model: 'gpt2', prompt: 'x', max_tokens: 6, stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    const closing = routes.close();
    await expect((async () => {
      for (;;) if ((await iterator.next()).done) return;
    })()).rejects.toThrow(/shutting down/);
    await closing;
    await expect(client.completions.create({ model: 'gpt2', prompt: 'x' })).rejects.toMatchObject({ status: 503 });
  });
});
