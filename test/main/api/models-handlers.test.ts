/**
 * The Models area of the API (src/main/api/models-handlers.ts) over a real model store and a
 * scripted inference port: tasks report on the `task` channel and can be cancelled, a model busy
 * with a task is not deleted under it, the catalog marks what is installed, the memory estimate
 * warns when the machine is short, and measured speeds are averaged and kept across restarts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addSpeed, createModelsArea, type ModelsAreaInference } from '../../../src/main/api/models-handlers';
import { ModelStore } from '../../../src/main/engine/models/store';
import { ApiError, ServerEvent, type GenerationResult } from '../../../src/shared/api';
import type { TaskState } from '../../../src/shared/models';
import { makeRandomCheckpoint } from '../../helpers/checkpoint-factory';
import { useTempDirs } from '../../helpers/tmp';

const tempDir = useTempDirs('inkwell-models-area-');
const GIB = 1024 ** 3;

/** An inference port whose tasks step through progress until released or cancelled. */
function scriptedInference(): ModelsAreaInference & { release(): void } {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    release: () => release(),
    async modelTask(work, onProgress, signal) {
      onProgress({ phase: 'downloading', fraction: 0.25, bytesDone: 25, bytesTotal: 100, bytesPerSecond: 10, secondsLeft: 7.5 });
      await Promise.race([gate, new Promise((resolve) => signal?.addEventListener('abort', resolve, { once: true }))]);
      if (signal?.aborted) throw new ApiError('cancelled', `${work.kind} was cancelled`);
      return { modelId: 'id' in work && work.id ? work.id : 'gpt2', message: 'gpt2 is installed' };
    },
    async load(modelId) {
      return { modelId, device: 'cpu', precision: 'fp32', residentBytes: 1024, loadMs: 5, alreadyLoaded: false, unloaded: [] };
    },
    async loadedModels() {
      return [];
    },
    async unload() {},
  };
}

function area(options: { home?: string; inference?: ModelsAreaInference; availableBytes?: number } = {}) {
  const home = options.home ?? tempDir();
  const store = new ModelStore(home);
  const events: ServerEvent[] = [];
  const models = createModelsArea({
    store,
    inference: options.inference ?? scriptedInference(),
    machine: { homedir: home, hostname: 'test-host', transport: 'http' },
    emit: (event) => events.push(ServerEvent.parse(event)),
    availableMemory: () => ({ availableBytes: options.availableBytes ?? 32 * GIB, totalBytes: 64 * GIB, source: 'MemAvailable' }),
    env: { HF_ENDPOINT: 'http://127.0.0.1:9', HF_HUB_CACHE: join(home, 'no-cache') },
  });
  const tasks = (): TaskState[] => events.flatMap((e) => (e.channel === 'task' ? [e.task] : []));
  return { store, models, events, tasks, home };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check()).toBe(true);
}

describe('models area', () => {
  it('a pull reports its progress on the task channel and ends done with its message', async () => {
    const inference = scriptedInference();
    const { models, tasks } = area({ inference });
    const started = await models.handlers['models.startTask']({ kind: 'pull', name: 'gpt2' });
    expect(started).toMatchObject({ status: 'running', title: 'Downloading gpt2' });
    await until(() => tasks().some((t) => t.progress?.phase === 'downloading'));
    expect(tasks().find((t) => t.progress?.phase === 'downloading')?.progress).toMatchObject({ fraction: 0.25, bytesDone: 25, bytesTotal: 100 });
    inference.release();
    await until(() => tasks().at(-1)?.status === 'done');
    expect(tasks().at(-1)).toMatchObject({ status: 'done', message: 'gpt2 is installed', modelId: 'gpt2' });
    expect((await models.handlers['models.tasks']({})).map((t) => t.status)).toEqual(['done']);
  });

  it('a cancelled task ends cancelled, and the same request while one runs is the same task', async () => {
    const { models, tasks } = area();
    const first = await models.handlers['models.startTask']({ kind: 'pull', name: 'gpt2' });
    const again = await models.handlers['models.startTask']({ kind: 'pull', name: 'gpt2' });
    expect(again.taskId).toBe(first.taskId);
    expect(await models.handlers['models.cancelTask']({ taskId: first.taskId })).toEqual({ cancelled: true });
    await until(() => tasks().at(-1)?.status === 'cancelled');
    expect(await models.handlers['models.cancelTask']({ taskId: first.taskId })).toEqual({ cancelled: false });
  });

  it('a model busy with a task is refused a second task and a variant deletion (busy), and is free again after', async () => {
    const inference = scriptedInference();
    const { models, tasks } = area({ inference });
    await models.handlers['models.startTask']({ kind: 'pull', name: 'someone/tiny', id: 'tiny' });
    expect(models.busyWith('tiny')).toBe(true);
    expect(() => models.handlers['models.startTask']({ kind: 'cache-import', name: 'someone/tiny', id: 'tiny' })).toThrow(expect.objectContaining({ kind: 'busy' }));
    await expect(models.handlers['models.removeVariant']({ id: 'tiny', precision: 'int8' })).rejects.toMatchObject({ kind: 'busy' });
    inference.release();
    await until(() => tasks().at(-1)?.status === 'done');
    expect(models.busyWith('tiny')).toBe(false);
  });

  it('a folder that does not exist is refused at once, naming the machine', () => {
    const { models } = area();
    expect(() => models.handlers['models.startTask']({ kind: 'folder-import', path: '~/nowhere', id: 'x' })).toThrow(/there is no folder .*nowhere on the computer running inkwell serve \(test-host\)/);
  });

  it('the catalog marks a stored model as installed, and the estimate warns when memory is short', async () => {
    const home = tempDir();
    await makeRandomCheckpoint(join(home, 'ckpt'), { nLayer: 1, nEmbd: 32, nHead: 2, nPositions: 32, seed: 5 });
    await new ModelStore(home).import(join(home, 'ckpt'), 'gpt2');
    const roomy = area({ home });
    const catalog = await roomy.models.handlers['models.catalog']({});
    expect(catalog.items.find((i) => i.alias === 'gpt2')?.installedAs).toEqual(['gpt2']);
    expect(catalog.items.find((i) => i.alias === 'gpt2-large')?.installedAs).toEqual([]);
    expect(catalog.endpoint).toBe('http://127.0.0.1:9');
    expect(await roomy.models.handlers['models.estimate']({ id: 'gpt2', precision: 'fp32', batch: 1 })).toMatchObject({ fits: true });
    const short = area({ home, availableBytes: 1024 * 1024 });
    const verdict = await short.models.handlers['models.estimate']({ id: 'gpt2', precision: 'fp32', batch: 1 });
    expect(verdict.fits).toBe(false);
    expect(verdict.warning).toMatch(/needs about .* and 1\.0 MiB is available/);
    const overview = await roomy.models.handlers['models.overview']({});
    expect(overview.models.map((m) => [m.id, m.variants.map((v) => v.precision)])).toEqual([['gpt2', ['fp32']]]);
  });

  it('measured speeds are the running mean per model, precision and device, and survive a restart', () => {
    const home = tempDir();
    const result = (tokensPerSecond: number, device: 'cpu' | 'webgpu' = 'cpu'): GenerationResult => ({
      generationId: 'g', historyId: 1, modelId: 'gpt2', device, precision: 'int8', seed: 1, promptTokens: 3, truncatedPromptTokens: 0,
      sequences: [{ text: ' a b', tokenIds: [1, 2], finishReason: 'length' }],
      timings: { loadMs: 0, prefillMs: 1, decodeMs: 10, tokensPerSecond },
    });
    const first = area({ home });
    first.models.recordGeneration(result(30));
    first.models.recordGeneration(result(60));
    first.models.recordGeneration(result(100, 'webgpu'));
    expect(addSpeed([], { modelId: 'a', precision: 'fp32', device: 'cpu', tokensPerSecond: 5 })).toMatchObject([{ tokensPerSecond: 5, generations: 1 }]);
    const reread = area({ home });
    reread.models.recordGeneration(result(90));
    // (30 + 60 + 90) / 3 on the cpu; the webgpu figure kept apart.
    const file = JSON.parse(readFileSync(join(home, 'measured-speeds.json'), 'utf8')) as { device: string; tokensPerSecond: number; generations: number }[];
    expect(file.find((s) => s.device === 'cpu')).toMatchObject({ tokensPerSecond: 60, generations: 3 });
    expect(file.find((s) => s.device === 'webgpu')).toMatchObject({ tokensPerSecond: 100, generations: 1 });
  });
});
