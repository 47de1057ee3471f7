/**
 * The real inference process (built from process-entry.ts, forked with IPC)
 * running a tiny random GPT-2: import, generation through the API service
 * with a real history database, and SIGKILL mid-generation — the request
 * fails with engine_crashed, the next generation works, history is intact.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiService, type ApiService } from '../../../src/main/api/service';
import { ModelStore } from '../../../src/main/engine/models/store';
import { AppDatabase } from '../../../src/main/history';
import { InferenceClient } from '../../../src/main/inference/client';
import { createNodeSpawner } from '../../../src/main/inference/node-spawner';
import { GenerationParams, type GenerationEvent, type ServerEvent } from '../../../src/shared/api';
import { makeRandomCheckpoint } from '../../helpers/checkpoint-factory';
import { useTempDirs } from '../../helpers/tmp';
import { buildInferenceProcess } from '../../helpers/build-inference-process';

const tempDir = useTempDirs('inkwell-inference-process-');

let built: Awaited<ReturnType<typeof buildInferenceProcess>>;
let home: string;
let history: AppDatabase;
let inference: InferenceClient;
let service: ApiService;
const events: ServerEvent[] = [];

beforeAll(async () => {
  built = await buildInferenceProcess();
  home = tempDir();
  const checkpoint = join(tempDir(), 'tiny-ckpt');
  // 256 positions leave room for a generation long enough to be killed in the middle of.
  await makeRandomCheckpoint(checkpoint, { nLayer: 2, nEmbd: 32, nHead: 2, nPositions: 256, seed: 3 });
  history = AppDatabase.open(join(home, 'inkwell.db')).database;
  inference = new InferenceClient({ spawn: createNodeSpawner({ home, entry: built.entry }) });
  service = createApiService({
    history,
    inference,
    models: new ModelStore(home),
    modelStore: new ModelStore(home),
    appInfo: { version: 'test', dataDir: home, transport: 'http', nativeFileDialogs: false, notices: [] },
  });
  service.subscribe((event) => events.push(event));
  await service.handle('models.import', { path: checkpoint, id: 'tiny' });
});

afterAll(async () => {
  await service?.close();
  await inference?.close();
  history?.close();
  built?.remove();
});

function generationEvents(generationId: string): GenerationEvent[] {
  return events.flatMap((e) => (e.channel === 'generation' && e.event.generationId === generationId ? [e.event] : []));
}

/** Waits for the generation's final event; a bound, not a speed claim: a hang fails here instead of at the suite timeout. */
async function finished(generationId: string, boundMs = 30_000): Promise<GenerationEvent> {
  const until = Date.now() + boundMs;
  while (Date.now() < until) {
    const last = generationEvents(generationId).at(-1);
    if (last && (last.type === 'done' || last.type === 'error')) return last;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`generation ${generationId} did not finish within ${boundMs} ms`);
}

async function generate(prompt: string, params: Partial<GenerationParams>): Promise<string> {
  const { generationId } = (await service.handle('generate.start', {
    modelId: 'tiny',
    prompt,
    params: GenerationParams.parse({ numReturnSequences: 2, ...params }),
  })) as { generationId: string };
  return generationId;
}

describe('inference process (real engine, real process)', () => {
  it('imports through the process and lists the model from the store', async () => {
    expect(await service.handle('models.list', {})).toEqual([expect.objectContaining({ id: 'tiny', nLayer: 2, nEmbd: 32, nPositions: 256 })]);
    const status = (await service.handle('models.status', {})) as { state: string; devices: { name: string; available: boolean }[] };
    expect(status.state).toBe('ready');
    expect(status.devices.find((d) => d.name === 'cpu')?.available).toBe(true);
    expect(await service.handle('tokenize', { modelId: 'tiny', text: 'Hello world' })).toEqual({ ids: [15496, 995], tokens: ['Hello', ' world'] });
  });

  it('survives SIGKILL mid-generation: engine_crashed, then a fresh process serves the next generation', async () => {
    const firstId = await generate('The lighthouse keeper', { maxNewTokens: 8, seed: 1 });
    const first = await finished(firstId);
    if (first.type !== 'done') throw new Error(`first generation failed: ${JSON.stringify(first)}`);
    const savedBefore = history.generations.get(first.result.historyId);

    const { pid } = await inference.status();
    let killed = false;
    const stop = service.subscribe((event) => {
      if (!killed && event.channel === 'generation' && event.event.type === 'delta') {
        killed = true;
        process.kill(pid, 'SIGKILL');
      }
    });
    const doomedId = await generate('Once upon a time', { maxNewTokens: 200, seed: 2 });
    const doomed = await finished(doomedId, 10_000);
    stop();
    expect(killed).toBe(true);
    expect(doomed).toMatchObject({ type: 'error', error: { kind: 'engine_crashed', message: expect.stringContaining('SIGKILL') } });
    const crashed = events.flatMap((e) => (e.channel === 'engine' ? [e.status] : [])).at(-1);
    expect(crashed).toMatchObject({ state: 'crashed', message: expect.stringContaining('SIGKILL') });

    const nextId = await generate('The sea was', { maxNewTokens: 8, seed: 1 });
    const next = await finished(nextId);
    if (next.type !== 'done') throw new Error(`generation after the crash failed: ${JSON.stringify(next)}`);
    expect((await inference.status()).pid).not.toBe(pid);

    expect(history.generations.list({}).total).toBe(2);
    expect(history.generations.get(first.result.historyId)).toEqual(savedBefore);
    expect(history.checkIntegrity()).toEqual([]);
  });

  it('returns the partial text of a cancelled generation and saves it', async () => {
    let cancelled = false;
    const stop = service.subscribe((event) => {
      if (!cancelled && event.channel === 'generation' && event.event.type === 'delta') {
        cancelled = true;
        void service.handle('generate.cancel', { generationId: event.event.generationId });
      }
    });
    const id = await generate('It was a dark and stormy night', { maxNewTokens: 200, seed: 5 });
    const last = await finished(id);
    stop();
    if (last.type !== 'done') throw new Error(`expected done, got ${JSON.stringify(last)}`);
    expect(last.result.sequences.every((c) => c.finishReason === 'cancelled')).toBe(true);
    expect(history.generations.get(last.result.historyId).candidates.map((c) => c.finishReason)).toEqual(['cancelled', 'cancelled']);
  });
});
