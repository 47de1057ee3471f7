/**
 * The remote-engine client against a stand-in replaying recorded vLLM and
 * llama.cpp answers: models and server detection, candidates (vLLM's `n`,
 * one request per candidate for llama.cpp), streaming cut at every byte,
 * CRLF and keep-alives, logprobs in both shapes, stop strings, cancel, and
 * every failure: wrong key, unknown model, refused request, busy server, a
 * proxy's HTML page, malformed events, an error event mid-stream, a server
 * that goes away or falls silent, timeouts of each phase, no server at all.
 */
import { createServer } from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteCompletionsClient, apiBase, continuationTokens, finishReasonOf, type RemoteClientOptions, type RemoteCompletionRequest } from '../../../../src/main/engine/remote/client';
import { RemoteEngineError } from '../../../../src/main/engine/remote/errors';
import { EngineError } from '../../../../src/main/engine/types';
import { GenerationParams, type GenerationParamsInput } from '../../../../src/shared/api';
import type { TokenLogprob } from '../../../../src/shared/openai/logprobs';
import { RemoteStandin, readRecording, type StandinFlavour } from '../../../helpers/remote-standin';

const KEY = 'sk-remote-secret-key-0123456789';
const standins: RemoteStandin[] = [];
afterEach(async () => {
  await Promise.all(standins.splice(0).map((s) => s.close()));
});

async function standin(flavour: StandinFlavour, options: { apiKey?: string } = { apiKey: KEY }) {
  const server = await RemoteStandin.start(flavour, options);
  standins.push(server);
  return server;
}

function client(server: RemoteStandin, options: Partial<RemoteClientOptions> = {}) {
  return new RemoteCompletionsClient({ name: 'lab', baseUrl: server.origin, apiKey: KEY, ...options });
}

const params = (input: GenerationParamsInput = {}) => GenerationParams.parse({ maxNewTokens: 4, numReturnSequences: 1, seed: 42, ...input });

/** Runs a completion and records every delta. */
async function run(remote: RemoteCompletionsClient, request: Partial<RemoteCompletionRequest> = {}) {
  const deltas: { sequence: number; text: string; tokens?: TokenLogprob[] }[] = [];
  const result = await remote.complete({
    model: 'gpt2-large',
    prompt: 'The lighthouse keeper',
    params: params(),
    onDelta: (sequence, text, tokens) => deltas.push({ sequence, text, ...(tokens ? { tokens } : {}) }),
    ...request,
  });
  const streamed = (sequence: number) => deltas.filter((d) => d.sequence === sequence).map((d) => d.text).join('');
  return { result, deltas, streamed };
}

/** The RemoteEngineError a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<RemoteEngineError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RemoteEngineError);
  return error as RemoteEngineError;
}

const partialTexts = (error: RemoteEngineError) => (error.partial as { sequences: { text: string; finishReason: string }[] } | undefined)?.sequences.map((s) => [s.text, s.finishReason]);

describe('remote engine client: vLLM', () => {
  it('lists the models with their context length and detects vLLM', async () => {
    const server = await standin('vllm');
    const remote = client(server);
    expect(await remote.listModels()).toEqual([{ id: 'gpt2-large', ownedBy: 'vllm', contextLength: 1024 }]);
    expect(await remote.serverKind()).toBe('vllm');
    expect(server.requests[0]).toMatchObject({ method: 'GET', path: '/v1/models' });
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it('asks vLLM for n candidates in one streamed request with every sampling field explicit', async () => {
    const server = await standin('vllm');
    const { result, streamed } = await run(client(server), {
      memory: 'Memory. ',
      params: params({ numReturnSequences: 2, temperature: 0.7, topK: 0, topP: 0.9, repetitionPenalty: 1.1, stop: ['\n\n'] }),
    });
    expect(server.completionBodies).toEqual([
      {
        model: 'gpt2-large',
        prompt: 'Memory. The lighthouse keeper',
        max_tokens: 4,
        temperature: 0.7,
        top_p: 0.9,
        top_k: -1,
        repetition_penalty: 1.1,
        seed: 42,
        n: 2,
        stop: ['\n\n'],
        stream: true,
        stream_options: { include_usage: true },
      },
    ]);
    expect(result.sequences.map((s) => [s.text, s.finishReason])).toEqual([
      [' was a café owner', 'length'],
      [' lit the lamp 👋', 'length'],
    ]);
    expect([streamed(0), streamed(1)]).toEqual([' was a café owner', ' lit the lamp 👋']);
    expect(result).toMatchObject({ model: 'gpt2-large', serverKind: 'vllm', seed: 42, promptTokens: 4 });
    expect(result.timings.firstTokenMs).not.toBeNull();
  });

  it('sends temperature 0 for greedy decoding and picks a seed it reports when none is given', async () => {
    const server = await standin('vllm');
    const { result } = await run(client(server), { params: GenerationParams.parse({ maxNewTokens: 4, numReturnSequences: 1, doSample: false }) });
    const body = server.completionBodies[0] as { temperature: number; seed: number };
    expect(body.temperature).toBe(0);
    expect(Number.isInteger(body.seed)).toBe(true);
    expect(result.seed).toBe(body.seed);
  });

  it.each([
    ['byte by byte (lines, CRLFs and UTF-8 characters split)', { kind: 'bytewise' as const }],
    ['with CRLF line ends', { kind: 'crlf' as const }],
    ['with keep-alive comments and blank lines between events', { kind: 'keepalive' as const, gapMs: 1 }],
  ])('reads the same stream delivered %s', async (_name, delivery) => {
    const server = await standin('vllm');
    server.completions.push({ fixture: 'completions-stream-n2.sse', delivery });
    const { result } = await run(client(server), { params: params({ numReturnSequences: 2 }) });
    expect(result.sequences.map((s) => s.text)).toEqual([' was a café owner', ' lit the lamp 👋']);
    expect(result.promptTokens).toBe(4);
  });

  it('returns logprobs from the completions format, alternatives most likely first, with each delta', async () => {
    const server = await standin('vllm');
    const { result, deltas } = await run(client(server), { logprobs: 2 });
    expect(server.completionBodies[0]?.logprobs).toBe(2);
    const tokens = result.sequences[0]?.logprobs;
    expect(tokens?.map((t) => [t.token, t.logprob])).toEqual([
      [' was', -1.9237],
      [' a', -1.1302],
      [' café', -7.4113],
      [' owner', -3.0216],
    ]);
    // vLLM adds the sampled token to the top N: three entries, sorted.
    expect(tokens?.[2]?.top).toEqual([
      { token: ' man', logprob: -1.7125 },
      { token: ' lonely', logprob: -2.9348 },
      { token: ' café', logprob: -7.4113 },
    ]);
    expect(deltas.map((d) => d.tokens?.map((t) => t.token))).toEqual([[' was'], [' a'], [' café'], [' owner']]);
    expect(result.sequences[0]?.tokenCount).toBe(4);
  });

  it('ends a candidate at a stop string the server did not apply, and hangs up on the rest', async () => {
    const server = await standin('vllm');
    server.completions.push({ fixture: 'completions-stream.sse', delivery: { kind: 'pause', events: 3, silentMs: 2_000 } });
    const { result, streamed } = await run(client(server), { params: params({ stop: [' caf'] }) });
    expect(result.sequences[0]).toMatchObject({ text: ' was a', finishReason: 'stop' });
    expect(streamed(0)).toBe(' was a');
    await expect.poll(() => server.abandoned).toBe(1);
  });

  it('reads a server that answers JSON although a stream was asked for', async () => {
    const server = await standin('vllm');
    server.completions.push({ fixture: 'completions.json' });
    const { result, streamed } = await run(client(server));
    expect(result.sequences[0]).toMatchObject({ text: ' was a café owner', finishReason: 'length', tokenCount: 4 });
    expect(streamed(0)).toBe(' was a café owner');
  });

  it('cancel ends every candidate with what had streamed and drops the connection (vLLM then aborts)', async () => {
    const server = await standin('vllm');
    server.completions.push({ fixture: 'completions-stream-n2.sse', delivery: { kind: 'pause', events: 3, silentMs: 5_000 } });
    const controller = new AbortController();
    const pending = run(client(server), {
      params: params({ numReturnSequences: 2 }),
      signal: controller.signal,
      onDelta: (sequence) => {
        if (sequence === 0) setTimeout(() => controller.abort(), 30);
      },
    });
    const { result } = await pending;
    expect(result.sequences.map((s) => [s.text, s.finishReason])).toEqual([
      [' was a', 'cancelled'],
      [' lit', 'cancelled'],
    ]);
    await expect.poll(() => server.abandoned).toBe(1);
  });

  it('a cancel before the server is reached resolves with empty cancelled candidates', async () => {
    const server = await standin('vllm');
    const controller = new AbortController();
    controller.abort();
    const { result } = await run(client(server), { params: params({ numReturnSequences: 2 }), signal: controller.signal });
    expect(result.sequences).toEqual([
      { text: '', finishReason: 'cancelled', tokenCount: null },
      { text: '', finishReason: 'cancelled', tokenCount: null },
    ]);
  });

  it('a wrong key is named as such, and the key never appears in the message', async () => {
    const server = await standin('vllm');
    const wrong = await failure(client(server, { apiKey: 'sk-wrong-key-9999' }).complete({ model: 'gpt2-large', prompt: 'x', params: params() }));
    expect(wrong).toMatchObject({ failure: 'unauthorized', kind: 'refused', status: 401 });
    expect(wrong.message).toBe('remote engine "lab" (' + server.origin + '): the server refused the API key: check the key stored for this engine in Settings (HTTP 401: Unauthorized)');
    expect(wrong.message).not.toContain('sk-wrong-key-9999');
    const none = await failure(client(server, { apiKey: undefined }).listModels());
    expect(none.message).toMatch(/the server wants an API key: add it to this engine in Settings \(HTTP 401/);
  });

  it('cuts the key out of a server message that echoes it', async () => {
    const server = await standin('vllm', {});
    server.completions.push({ status: 400, body: JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}.` } }) });
    const error = await failure(run(client(server, { kind: 'vllm' })));
    expect(error.message).toContain('Incorrect API key provided: [redacted].');
    expect(error.message).not.toContain(KEY);
  });

  it('an unknown model, a refused request and a busy server give their own failures with the server\'s words', async () => {
    const server = await standin('vllm');
    server.completions.push({ status: 404, fixture: 'error-404-model.json' });
    server.completions.push({ status: 400, fixture: 'error-400-context.json' });
    server.completions.push({ status: 429, body: '{"error":{"message":"Too many requests"}}', headers: { 'Retry-After': '7' } });
    const remote = client(server);
    const missing = await failure(run(remote));
    expect(missing).toMatchObject({ failure: 'not_found', kind: 'not_found' });
    expect(missing.message).toContain('the server has no model "gpt2-large" or no /completions endpoint (HTTP 404: The model `gpt3` does not exist.)');
    const refused = await failure(run(remote));
    expect(refused).toMatchObject({ failure: 'rejected', kind: 'bad_input', status: 400 });
    expect(refused.message).toContain("This model's maximum context length is 1024 tokens");
    const busy = await failure(run(remote));
    expect(busy).toMatchObject({ failure: 'busy', retryAfterSeconds: 7 });
    expect(busy.message).toMatch(/busy \(HTTP 429: Too many requests\); it asks to retry after 7 s$/);
  });

  it('a proxy\'s HTML error page, a redirect and a wrong content type are reported plainly', async () => {
    const server = await standin('vllm');
    server.completions.push({ status: 502, headers: { 'Content-Type': 'text/html' }, body: '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>' });
    server.completions.push({ status: 301, headers: { Location: 'https://gpu.example/v1/completions' }, body: '' });
    server.completions.push({ status: 200, headers: { 'Content-Type': 'text/html' }, body: '<!doctype html><title>Sign in</title>' });
    const remote = client(server);
    expect((await failure(run(remote))).message).toMatch(/the server failed \(HTTP 502: an HTML page: "502 Bad Gateway"\)$/);
    const moved = await failure(run(remote));
    expect(moved).toMatchObject({ failure: 'redirected' });
    expect(moved.message).toMatch(/to https:\/\/gpu\.example\/v1\/completions: use the address it redirects to as the base URL$/);
    expect((await failure(run(remote))).message).toMatch(/answered with text\/html instead of an event stream: an HTML page: "Sign in"$/);
  });

  it('an error event mid-stream fails with the server\'s message and keeps the text before it', async () => {
    const server = await standin('vllm');
    server.completions.push({ fixture: 'completions-stream-error.sse' });
    const error = await failure(run(client(server)));
    expect(error).toMatchObject({ failure: 'server_error' });
    expect(error.message).toContain('Sampling error: probability tensor contains either `inf`, `nan` or element < 0');
    expect(partialTexts(error)).toEqual([[' was a', 'cancelled']]);
  });

  it.each([
    ['an event that is not JSON', 'data: {"choices": [{"text": " was"\n\n', /an event of the stream is not JSON/],
    ['an event without choices', 'data: {"id": "cmpl-1", "object": "text_completion"}\n\n', /not a completion \(choices: /],
    ['a choice index that was not asked for', 'data: {"choices": [{"index": 5, "text": "x"}]}\n\n', /sent choice 5, but 2 were asked for/],
  ])('%s is malformed, with the text before it kept', async (_name, bad, message) => {
    const server = await standin('vllm');
    const good = 'data: {"choices":[{"index":0,"text":" was"},{"index":1,"text":" lit"}]}\n\n';
    server.completions.push({ fixture: 'completions-stream-n2.sse', body: good + bad, headers: { 'Content-Type': 'text/event-stream' } });
    const error = await failure(run(client(server), { params: params({ numReturnSequences: 2 }) }));
    expect(error).toMatchObject({ failure: 'malformed' });
    expect(error.message).toMatch(message);
    expect(partialTexts(error)).toEqual([
      [' was', 'cancelled'],
      [' lit', 'cancelled'],
    ]);
  });

  it('a server that goes away mid-stream, or ends the stream early, fails as disconnected with the text so far', async () => {
    const server = await standin('vllm');
    server.completions.push({ fixture: 'completions-stream-n2.sse', delivery: { kind: 'drop', events: 3 } });
    server.completions.push({ fixture: 'completions-stream-n2.sse', delivery: { kind: 'truncate', events: 3 } });
    const remote = client(server);
    const dropped = await failure(run(remote, { params: params({ numReturnSequences: 2 }) }));
    expect(dropped).toMatchObject({ failure: 'disconnected', kind: 'device' });
    expect(dropped.message).toMatch(/the server closed the connection in the middle of the response$/);
    expect(partialTexts(dropped)).toEqual([
      [' was a', 'cancelled'],
      [' lit', 'cancelled'],
    ]);
    const truncated = await failure(run(remote, { params: params({ numReturnSequences: 2 }) }));
    expect(truncated.message).toMatch(/the stream ended before the server said it was done$/);
    expect(partialTexts(truncated)?.[0]).toEqual([' was a', 'cancelled']);
  });

  it('a stream that falls silent past the idle limit times out with the text so far; keep-alives keep it open', async () => {
    const server = await standin('vllm');
    server.completions.push({ fixture: 'completions-stream.sse', delivery: { kind: 'pause', events: 2, silentMs: 1_500 } });
    server.completions.push({ fixture: 'completions-stream.sse', delivery: { kind: 'pause', events: 2, silentMs: 600, pingMs: 50 } });
    const remote = client(server, { timeouts: { idleMs: 300 } });
    const silent = await failure(run(remote));
    expect(silent).toMatchObject({ failure: 'timeout' });
    expect(silent.message).toMatch(/the stream went silent for 0\.3 s \(idle timeout\)$/);
    expect(partialTexts(silent)).toEqual([[' was a', 'cancelled']]);
    const { result } = await run(remote);
    expect(result.sequences[0]?.text).toBe(' was a café owner');
  });

  it('a server that accepts the request and never answers times out at the first-byte limit', async () => {
    const server = await standin('vllm');
    server.completions.push({ delivery: { kind: 'hang' } });
    const error = await failure(run(client(server, { kind: 'vllm', timeouts: { firstByteMs: 300 } })));
    expect(error.message).toMatch(/the server sent nothing for 0\.3 s after the request \(first-byte timeout\)$/);
  });

  it('a connection that never completes times out at the connect limit', async () => {
    // A socket stuck in "connecting", as a SYN to a host that drops packets would leave it.
    const stuck = () => Object.assign(new Duplex({ read() {}, write(_chunk, _encoding, done) { done(); } }), { connecting: true, setTimeout() {}, setNoDelay() {}, setKeepAlive() {}, ref() {}, unref() {} });
    const remote = new RemoteCompletionsClient({ name: 'lab', baseUrl: 'http://gpu-box.invalid:8000', kind: 'vllm', timeouts: { connectMs: 200 }, createConnection: stuck as never });
    const error = await failure(remote.complete({ model: 'm', prompt: 'x', params: params() }));
    expect(error).toMatchObject({ failure: 'timeout' });
    expect(error.message).toBe('remote engine "lab" (http://gpu-box.invalid:8000): no connection within 0.2 s (connect timeout)');
  });

  it('no server at the address is "connection refused"', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const error = await failure(new RemoteCompletionsClient({ name: 'lab', baseUrl: `http://127.0.0.1:${port}` }).listModels());
    expect(error).toMatchObject({ failure: 'unreachable' });
    expect(error.message).toMatch(/connection refused: is the server running and listening on that port\?$/);
  });

  it('refuses parameters a remote engine cannot honour before sending anything', async () => {
    const server = await standin('vllm');
    const remote = client(server, { kind: 'vllm' });
    await expect(run(remote, { params: params({ noRepeatNgramSize: 3 }) })).rejects.toThrow(/no n-gram block/);
    await expect(run(remote, { params: params({ maxLength: 100 }) })).rejects.toThrow(/use max_new_tokens/);
    const tgi = client(server, { kind: 'tgi' });
    await expect(run(tgi, { params: params({ topK: 40 }) })).rejects.toThrow(EngineError);
    expect(server.requests).toHaveLength(0);
  });
});

describe('remote engine client: llama.cpp server', () => {
  it('detects llama.cpp and reads the context length from its GGUF metadata', async () => {
    const server = await standin('llama.cpp');
    const remote = client(server);
    expect(await remote.listModels()).toEqual([{ id: 'gpt2-large-f16.gguf', ownedBy: 'llamacpp', contextLength: 1024 }]);
    expect(await remote.serverKind()).toBe('llama.cpp');
  });

  it('sends one request per candidate with seeds seed, seed+1, … and overrides its sampler defaults', async () => {
    const server = await standin('llama.cpp');
    const { result } = await run(client(server), { params: params({ numReturnSequences: 3, seed: 0xffff_ffff, topK: 0, repetitionPenalty: 1.2 }) });
    const bodies = server.completionBodies;
    expect(bodies.map((b) => b.seed).sort()).toEqual([0, 1, 0xffff_ffff].sort());
    expect(bodies.every((b) => b.n === undefined)).toBe(true);
    // llama.cpp's own defaults are top_k 40, min_p 0.05 and a penalty over the last 64 tokens only.
    expect(bodies[0]).toMatchObject({ top_k: 0, min_p: 0, repeat_penalty: 1.2, repeat_last_n: -1, top_p: 0.95, stream: true });
    expect(result.sequences.map((s) => [s.text, s.finishReason, s.tokenCount])).toEqual(Array(3).fill([' was a café owner', 'length', 4]));
    expect(result.promptTokens).toBe(4);
  });

  it("reads logprobs in llama.cpp's chat shape", async () => {
    const server = await standin('llama.cpp');
    const { result } = await run(client(server), { logprobs: 2 });
    const tokens = result.sequences[0]?.logprobs;
    expect(tokens?.map((t) => t.token)).toEqual([' was', ' a', ' café', ' owner']);
    expect(tokens?.[2]?.top).toEqual([
      { token: ' man', logprob: -1.7125 },
      { token: ' lonely', logprob: -2.9348 },
    ]);
  });

  it('a request of several candidates that fails in one fails as a whole, keeping the others\' text', async () => {
    const server = await standin('llama.cpp');
    server.completions.push({ fixture: 'completions-stream.sse' });
    server.completions.push({ status: 400, fixture: 'error-400-context.json' });
    server.completions.push({ fixture: 'completions-stream.sse', delivery: { kind: 'pause', events: 1, silentMs: 3_000 } });
    const error = await failure(run(client(server), { params: params({ numReturnSequences: 3 }) }));
    expect(error).toMatchObject({ failure: 'rejected' });
    expect(error.message).toContain('the request exceeds the available context size, try increasing it');
    const texts = partialTexts(error)?.map(([text]) => text);
    expect(texts).toHaveLength(3);
    expect(texts?.filter((t) => t === ' was a café owner')).toHaveLength(1);
  });

  it("names a wrong key from llama.cpp's error shape", async () => {
    const server = await standin('llama.cpp');
    const error = await failure(client(server, { apiKey: 'nope-nope' }).listModels());
    expect(error.message).toMatch(/refused the API key: .* \(HTTP 401: Invalid API Key\)$/);
  });
});

describe('remote engine client: other servers', () => {
  it("detects TGI from its /info when the model list does not say, and anything else as generic", async () => {
    const server = await standin('vllm', {});
    server.models.push({ body: '{"object":"list","data":[{"id":"gpt2","object":"model","created":0,"owned_by":"gpt2"}]}' });
    server.info = { body: '{"model_id":"gpt2","router":"text-generation-router","version":"2.4.1"}' };
    expect(await new RemoteCompletionsClient({ name: 'tgi', baseUrl: server.origin }).serverKind()).toBe('tgi');
    server.models.push({ body: '{"object":"list","data":[{"id":"gpt2","object":"model","created":0,"owned_by":"someone"}]}' });
    server.info = null;
    expect(await new RemoteCompletionsClient({ name: 'x', baseUrl: server.origin }).serverKind()).toBe('generic');
  });

  it('a model list that is not one is malformed, quoting the body', async () => {
    const server = await standin('vllm', {});
    server.models.push({ body: '{"detail":"Not Found"}' });
    const error = await failure(new RemoteCompletionsClient({ name: 'x', baseUrl: server.origin }).listModels());
    expect(error.message).toMatch(/GET \/v1\/models did not answer with a model list \(data: .*\): Not Found$/);
  });

  it('maps finish reasons of every server and builds the /v1 base from a bare origin', () => {
    expect(['stop', 'eos_token', 'stop_sequence', 'length', 'abort', null, undefined, ''].map(finishReasonOf)).toEqual(['stop', 'stop', 'stop', 'length', 'cancelled', null, null, null]);
    expect(apiBase('http://gpu:8000').href).toBe('http://gpu:8000/v1');
    expect(apiBase('http://gpu:8000/').href).toBe('http://gpu:8000/v1');
    expect(apiBase('https://gw.example/llm/openai/v1/').href).toBe('https://gw.example/llm/openai/v1/');
  });
});

describe('remote engine client: scoring text (echo + logprobs, max_tokens 0)', () => {
  const prompt = 'The lighthouse keeper';
  const continuation = ' was a café owner';

  it("vLLM: the continuation's tokens with the server's log-probabilities, the prompt's left out", async () => {
    const server = await standin('vllm');
    server.completions.push({ fixture: 'completions-echo-score.json' });
    const tokens = await client(server).scoreContinuation('gpt2-large', prompt, continuation);
    expect(server.completionBodies[0]).toMatchObject({ model: 'gpt2-large', prompt: prompt + continuation, echo: true, max_tokens: 0, logprobs: 1, stream: false });
    // Independently of the client: the recording's tokens after the prompt's 21 characters.
    const recorded = JSON.parse(readRecording('vllm', 'completions-echo-score.json')) as { choices: { logprobs: { tokens: string[]; token_logprobs: (number | null)[]; text_offset: number[] } }[] };
    const block = recorded.choices[0]!.logprobs;
    const expected = block.tokens.flatMap((token, i) => (block.text_offset[i]! >= prompt.length ? [{ text: token, logprob: block.token_logprobs[i] }] : []));
    expect(expected).toHaveLength(4);
    expect(tokens).toEqual(expected);
  });

  it('a token that spans the end of the prompt counts as the continuation\'s', () => {
    const tokens = [{ token: 'The', logprob: null, top: [] }, { token: ' cat', logprob: -2, top: [] }, { token: 's', logprob: -0.5, top: [] }];
    expect(continuationTokens(tokens, 'The ca'.length)).toEqual([{ text: ' cat', logprob: -2 }, { text: 's', logprob: -0.5 }]);
  });

  it("llama.cpp's server, which ignores echo, is told apart: no_logprobs, saying it cannot score text", async () => {
    const server = await standin('llama.cpp');
    server.completions.push({ fixture: 'completions-echo-ignored.json' });
    const error = await failure(client(server).scoreContinuation('gpt2-large', prompt, continuation));
    expect(error.failure).toBe('no_logprobs');
    expect(error.message).toMatch(/^remote engine "lab" \(http:\/\/127\.0\.0\.1:\d+\): the server returned no prompt log-probabilities/);
  });

  it('a server that ignores echo and generates instead is not mistaken for scored text', async () => {
    const server = await standin('llama.cpp');
    // logprobs of generated tokens: every one has a number, and they do not spell the text sent.
    server.completions.push({ body: readRecording('llama.cpp', 'completions-stream-logprobs.sse').split('\n\n')[0]!.replace(/^data: /, '') });
    expect((await failure(client(server).scoreContinuation('gpt2-large', prompt, continuation))).failure).toBe('no_logprobs');
  });

  it('a server that refuses max_tokens 0 says it cannot score, with its message', async () => {
    const server = await standin('vllm');
    server.completions.push({ status: 400, fixture: 'error-400-context.json' });
    const error = await failure(client(server).scoreContinuation('gpt2-large', prompt, continuation));
    expect(error.failure).toBe('no_logprobs');
    expect(error.message).toContain('the server refused to score text');
  });
});
