/**
 * Issue 12 §3: concurrent generations from different clients — two /v1 clients, or the UI's
 * generate.start and a /v1 client — reach the engine together through serve mode's wiring (the
 * same admission bound, the fair queue, the inference client and server) and share decode steps,
 * counted at the decoder of a real Engine on a random tiny model; each still gets what it gets alone.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiService, type ApiService } from '../../../../src/main/api/service';
import { Engine } from '../../../../src/main/engine';
import { openDecoder } from '../../../../src/main/engine/runtime';
import { AdmissionQueue, defaultAdmissionLimits } from '../../../../src/main/inference/admission';
import { InferenceClient } from '../../../../src/main/inference/client';
import { loadTaskProgress, runModelTask } from '../../../../src/main/inference-process/model-task';
import type { InferenceEngine } from '../../../../src/main/inference-process/server';
import { createServedOpenAiRoutes } from '../../../../src/main/transports/openai/inference-port';
import type { OpenAiRoutes } from '../../../../src/main/transports/openai/routes';
import { GenerationParams, type GenerationEvent, type ServerEvent } from '../../../../src/shared/api';
import { AppDatabase } from '../../../../src/main/history';
import { makeRandomCheckpoint } from '../../../helpers/checkpoint-factory';
import { countingDecoder } from '../../../helpers/counting-decoder';
import { createFakeSpawner } from '../../../helpers/fake-engine';
import { useTempDirs } from '../../../helpers/tmp';

const TOKEN = 'shared-steps-token';
const tempDir = useTempDirs('inkwell-shared-steps-');
/** Rows fed by every decode step. */
const steps: number[] = [];
let engine: Engine;
let inference: InferenceClient;
let routes: OpenAiRoutes;
let server: Server;
let service: ApiService;
let database: AppDatabase;
let client: OpenAI;

beforeAll(async () => {
  const home = tempDir();
  const checkpoint = join(tempDir(), 'ckpt');
  await makeRandomCheckpoint(checkpoint, { nLayer: 2, nEmbd: 32, nHead: 2, nPositions: 96, seed: 21 });
  engine = new Engine({ home, precision: 'fp32', openDecoder: async (paths, config, device) => countingDecoder(await openDecoder(paths, config, device), steps) });
  await engine.models.import(checkpoint, 'tiny');
  // The inference process's server and the client, as serve mode has them, over an in-memory channel.
  // The engine as the inference process serves it (process-entry.ts without its import worker).
  const real = engine;
  const served: InferenceEngine = Object.assign(real, {
    load: async (modelId: string, { onProgress, ...options }: Parameters<InferenceEngine['load']>[1]) => {
      const outcome = await real.load(modelId, { ...options, onProgress: (p) => onProgress(loadTaskProgress(p)) });
      return { ...outcome, unloaded: [...outcome.unloaded] };
    },
    runModelTask: (work: Parameters<InferenceEngine['runModelTask']>[0], hooks: Parameters<InferenceEngine['runModelTask']>[1]) => runModelTask(real.models, work, hooks),
  });
  inference = new InferenceClient({ spawn: createFakeSpawner(() => served, { heartbeatMs: 0 }), hangMs: 60_000 });
  const limits = defaultAdmissionLimits();
  const admission = new AdmissionQueue(limits);
  database = AppDatabase.open(join(home, 'inkwell.db')).database;
  service = createApiService({
    history: database,
    inference,
    models: engine.models,
    modelStore: engine.models,
    admission,
    appInfo: { version: 'test', dataDir: home, transport: 'http', nativeFileDialogs: false, notices: [] },
  });
  routes = createServedOpenAiRoutes({ inference, models: engine.models, admission, limits, authorize: (token) => token === TOKEN });
  server = createServer((req, res) => void routes.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new OpenAI({ apiKey: TOKEN, baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, maxRetries: 0 });
}, 120_000);

afterAll(async () => {
  await routes?.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await service?.close();
  await inference?.close();
  database?.close();
  await engine?.dispose();
});

const first = { model: 'tiny', prompt: 'The lighthouse keeper', max_tokens: 12, temperature: 0 } as const;
const second = { model: 'tiny', prompt: 'Once upon a time there was', max_tokens: 12, n: 2, seed: 7, temperature: 1 } as const;

/** Runs `work`, returning its result and the decode steps it took. */
async function counted<T>(work: () => Promise<T>): Promise<{ result: T; steps: number[] }> {
  steps.length = 0;
  const result = await work();
  return { result, steps: steps.slice() };
}

const texts = (completion: OpenAI.Completions.Completion): string[] => completion.choices.map((c) => c.text);

describe('serve mode: concurrent clients share decode steps', () => {
  it('two concurrent /v1 clients take fewer decoder steps together than the sum of each alone, with the same output', async () => {
    const aloneA = await counted(() => client.completions.create(first));
    const aloneB = await counted(() => client.completions.create(second));
    expect(aloneA.steps.every((rows) => rows === 1)).toBe(true);

    const together = await counted(() => Promise.all([client.completions.create(first), client.completions.create(second)]));
    expect(texts(together.result[0])).toEqual(texts(aloneA.result));
    expect(texts(together.result[1])).toEqual(texts(aloneB.result));
    expect(together.steps.length).toBeLessThan(aloneA.steps.length + aloneB.steps.length);
    // Some step fed the rows of both requests: 1 from the first, 2 candidates from the second.
    expect(Math.max(...together.steps)).toBe(3);
  });

  it("the UI's generate.start and a /v1 client share decode steps too", async () => {
    const params = GenerationParams.parse({ device: 'cpu', maxNewTokens: 12, numReturnSequences: 1, doSample: false, repetitionPenalty: 1 });
    const runUi = (): Promise<GenerationEvent> =>
      new Promise((resolve, reject) => {
        let id = '';
        const seen: GenerationEvent[] = [];
        const unsubscribe = service.subscribe((event: ServerEvent) => {
          if (event.channel !== 'generation') return;
          seen.push(event.event);
          const mine = seen.filter((e) => e.generationId === id).at(-1);
          if (mine && (mine.type === 'done' || mine.type === 'error')) {
            unsubscribe();
            resolve(mine);
          }
        });
        service.handle('generate.start', { modelId: 'tiny', prompt: 'Dear reader,', params }).then((r) => (id = (r as { generationId: string }).generationId), reject);
      });
    const uiAlone = await counted(runUi);
    const apiAlone = await counted(() => client.completions.create(second));
    const together = await counted(() => Promise.all([runUi(), client.completions.create(second)]));
    const [ui, api] = together.result;
    if (ui.type !== 'done' || uiAlone.result.type !== 'done') throw new Error(`expected done, got ${JSON.stringify(ui)}`);
    expect(ui.result.sequences.map((s) => s.text)).toEqual(uiAlone.result.result.sequences.map((s) => s.text));
    expect(texts(api)).toEqual(texts(apiAlone.result));
    expect(together.steps.length).toBeLessThan(uiAlone.steps.length + apiAlone.steps.length);
    expect(Math.max(...together.steps)).toBe(3);
  });
});
