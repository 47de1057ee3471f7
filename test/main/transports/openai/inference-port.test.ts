/**
 * Serve mode's /v1 port scoring text (issue 11): `echo` with `logprobs` and max_tokens 0 returns the
 * prompt's own tokens, the first with a null log-probability and each later one its log-probability
 * after the tokens before it, so that a remote Inkwell can score Compare columns. Checked with the
 * remote client against a real Engine on a random tiny model; the reference is a float64
 * log-softmax of the engine's raw logits at every position (`Engine.logits`, another pass).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../../../src/main/engine';
import { RemoteCompletionsClient } from '../../../../src/main/engine/remote/client';
import { AdmissionQueue, defaultAdmissionLimits } from '../../../../src/main/inference/admission';
import { InferenceClient } from '../../../../src/main/inference/client';
import type { InferenceEngine } from '../../../../src/main/inference-process/server';
import { createServedOpenAiRoutes } from '../../../../src/main/transports/openai/inference-port';
import type { OpenAiRoutes } from '../../../../src/main/transports/openai/routes';
import { makeRandomCheckpoint } from '../../../helpers/checkpoint-factory';
import { createFakeSpawner } from '../../../helpers/fake-engine';
import { useTempDirs } from '../../../helpers/tmp';

const TOKEN = 'score-token';
const tempDir = useTempDirs('inkwell-v1-score-');
let engine: Engine;
let inference: InferenceClient;
let routes: OpenAiRoutes;
let server: Server;
let origin: string;

beforeAll(async () => {
  const checkpoint = join(tempDir(), 'ckpt');
  await makeRandomCheckpoint(checkpoint, { nLayer: 2, nEmbd: 32, nHead: 2, nPositions: 96, seed: 23 });
  engine = new Engine({ home: tempDir(), precision: 'fp32' });
  await engine.models.import(checkpoint, 'tiny');
  inference = new InferenceClient({ spawn: createFakeSpawner(() => engine as unknown as InferenceEngine, { heartbeatMs: 0 }), hangMs: 60_000 });
  const limits = defaultAdmissionLimits();
  routes = createServedOpenAiRoutes({ inference, models: engine.models, admission: new AdmissionQueue(limits), limits, authorize: (token) => token === TOKEN });
  server = createServer((req, res) => void routes.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  await routes?.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await inference?.close();
  await engine?.dispose();
});

/** log softmax(row)[token] in float64. */
function logSoftmax(row: Float32Array, token: number): number {
  let max = -Infinity;
  for (const x of row) max = Math.max(max, x);
  let sum = 0;
  for (const x of row) sum += Math.exp(x - max);
  return (row[token] as number) - max - Math.log(sum);
}

describe('serve mode /v1: echo with logprobs and max_tokens 0', () => {
  it("returns the prompt's tokens with their log-probabilities, as a float64 log-softmax of the engine's logits says", async () => {
    const text = 'The lighthouse keeper climbed the stairs';
    const response = await fetch(`${origin}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ model: 'tiny', prompt: text, max_tokens: 0, echo: true, logprobs: 1, temperature: 0 }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { choices: { text: string; logprobs: { tokens: string[]; token_logprobs: (number | null)[]; text_offset: number[] } }[] };
    const block = body.choices[0]!.logprobs;
    expect(body.choices[0]!.text).toBe(text);
    expect(block.tokens.join('')).toBe(text);
    expect(block.token_logprobs[0]).toBeNull();
    const reference = await engine.logits('tiny', text, true, 'cpu', 'fp32');
    expect(block.tokens).toHaveLength(reference.tokenIds.length);
    reference.tokenIds.slice(1).forEach((token, i) => {
      expect(Math.abs((block.token_logprobs[i + 1] as number) - logSoftmax(reference.logits![i]!, token))).toBeLessThan(1e-4);
    });
  });

  it("the remote client's scoreContinuation reads the continuation's part of it", async () => {
    const remote = new RemoteCompletionsClient({ name: 'desk', baseUrl: origin, apiKey: TOKEN });
    const tokens = await remote.scoreContinuation('tiny', 'The lighthouse keeper', ' climbed the stairs');
    expect(tokens.map((t) => t.text).join('')).toBe(' climbed the stairs');
    const reference = await engine.logits('tiny', 'The lighthouse keeper climbed the stairs', true, 'cpu', 'fp32');
    const n = tokens.length;
    const ids = reference.tokenIds.slice(-n);
    ids.forEach((token, i) => {
      const position = reference.tokenIds.length - n + i - 1;
      expect(Math.abs(tokens[i]!.logprob - logSoftmax(reference.logits![position]!, token))).toBeLessThan(1e-4);
    });
  });
});
