/**
 * Both ends of the protocol together: the remote-engine client talking to
 * Inkwell's own /v1 routes (over a scripted port) in a node:http server, the
 * way one Inkwell uses another `inkwell serve` as a remote engine.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteCompletionsClient } from '../../../../src/main/engine/remote/client';
import { RemoteEngineError } from '../../../../src/main/engine/remote/errors';
import { createOpenAiRoutes, type OpenAiRoutes } from '../../../../src/main/transports/openai/routes';
import { GenerationParams } from '../../../../src/shared/api';
import { ScriptedCompletionsPort, scriptedLogprob } from '../../../helpers/scripted-completions-port';

const TOKEN = 'serve-token';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function inkwellServe(port = new ScriptedCompletionsPort()): Promise<{ port: ScriptedCompletionsPort; origin: string; routes: OpenAiRoutes }> {
  const routes = createOpenAiRoutes({ port, authorize: (token) => token === TOKEN });
  const server: Server = createServer((req, res) => void routes.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    await routes.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, routes };
}

describe('remote client against Inkwell\'s /v1 routes', () => {
  it('lists, detects Inkwell, and generates n candidates in one request with logprobs and stop strings, streamed', async () => {
    const { origin, port } = await inkwellServe();
    const remote = new RemoteCompletionsClient({ name: 'desk', baseUrl: origin, apiKey: TOKEN });
    expect(await remote.listModels()).toEqual([{ id: 'gpt2', ownedBy: 'inkwell', contextLength: 1024 }]);
    const deltas: string[][] = [[], []];
    const result = await remote.complete({
      model: 'gpt2',
      prompt: 'Hello',
      params: GenerationParams.parse({ maxNewTokens: 8, numReturnSequences: 2, seed: 5, stop: ['\n'], temperature: 0.8, topK: 40, topP: 0.9, repetitionPenalty: 1.2, noRepeatNgramSize: 3 }),
      logprobs: 1,
      onDelta: (sequence, text) => deltas[sequence]?.push(text),
    });
    expect(result.serverKind).toBe('inkwell');
    // One job with every parameter as the local engine would have had it.
    expect(port.jobs).toHaveLength(1);
    expect(port.jobs[0]?.params).toEqual(GenerationParams.parse({ maxNewTokens: 8, numReturnSequences: 2, seed: 5, stop: ['\n'], temperature: 0.8, topK: 40, topP: 0.9, repetitionPenalty: 1.2, noRepeatNgramSize: 3 }));
    expect(port.jobs[0]?.logprobs).toBe(1);
    expect(result.sequences.map((s) => [s.text, s.finishReason])).toEqual([
      [' cand0 beta gamma', 'stop'],
      [' cand1 beta gamma', 'stop'],
    ]);
    expect(deltas.map((d) => d.join(''))).toEqual([' cand0 beta gamma', ' cand1 beta gamma']);
    expect(result.sequences[1]?.logprobs?.map((t) => t.logprob)).toEqual([0, 1, 2].map((step) => scriptedLogprob(1, step)));
    expect(result.sequences[1]?.tokenCount).toBe(3);
    expect(result.promptTokens).toBe(1);
  });

  it('as a generic server it gets one request per candidate with seeds seed, seed+1', async () => {
    const { origin, port } = await inkwellServe();
    const remote = new RemoteCompletionsClient({ name: 'desk', baseUrl: origin, apiKey: TOKEN, kind: 'generic' });
    const result = await remote.complete({ model: 'gpt2', prompt: 'Hi', params: GenerationParams.parse({ maxNewTokens: 2, numReturnSequences: 2, seed: 1 }) });
    expect(port.jobs.map((j) => [j.params.seed, j.params.numReturnSequences]).sort()).toEqual([
      [1, 1],
      [2, 1],
    ]);
    expect(result.sequences.map((s) => [s.text, s.tokenCount])).toEqual([
      [' cand0 beta', 2],
      [' cand0 beta', 2],
    ]);
  });

  it('with kind "vllm" sends n in one request, which Inkwell serves as n candidates', async () => {
    const { origin, port } = await inkwellServe();
    const remote = new RemoteCompletionsClient({ name: 'desk', baseUrl: origin, apiKey: TOKEN, kind: 'vllm' });
    const result = await remote.complete({ model: 'gpt2', prompt: 'Hi', params: GenerationParams.parse({ maxNewTokens: 2, numReturnSequences: 3, seed: 1 }) });
    expect(port.jobs).toHaveLength(1);
    expect(result.sequences.map((s) => s.text)).toEqual([' cand0 beta', ' cand1 beta', ' cand2 beta']);
  });

  it('cancelling on the client side aborts the generation on the serving side', async () => {
    const port = new ScriptedCompletionsPort();
    let release!: () => void;
    port.hold = new Promise<void>((resolve) => (release = resolve));
    const { origin } = await inkwellServe(port);
    const remote = new RemoteCompletionsClient({ name: 'desk', baseUrl: origin, apiKey: TOKEN });
    const controller = new AbortController();
    const done = remote.complete({
      model: 'gpt2',
      prompt: 'Hi',
      params: GenerationParams.parse({ maxNewTokens: 5, numReturnSequences: 1, seed: 1 }),
      signal: controller.signal,
      onDelta: () => controller.abort(),
    });
    const result = await done;
    expect(result.sequences[0]).toMatchObject({ text: ' cand0', finishReason: 'cancelled' });
    await expect.poll(() => port.signals[0]?.aborted).toBe(true);
    release();
  });

  it('a wrong serve token is an unauthorized failure; an unknown model is not_found', async () => {
    const { origin } = await inkwellServe();
    const wrong = await new RemoteCompletionsClient({ name: 'desk', baseUrl: origin, apiKey: 'nope' }).listModels().catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(RemoteEngineError);
    expect(wrong).toMatchObject({ failure: 'unauthorized' });
    const missing = await new RemoteCompletionsClient({ name: 'desk', baseUrl: origin, apiKey: TOKEN, kind: 'generic' })
      .complete({ model: 'gpt-9', prompt: 'x', params: GenerationParams.parse({ numReturnSequences: 1 }) })
      .catch((e: unknown) => e);
    expect(missing).toMatchObject({ failure: 'not_found' });
    expect((missing as Error).message).toContain('The model `gpt-9` does not exist.');
  });
});
