/**
 * A service under test: a real AppDatabase in a temp folder, the real
 * InferenceClient over in-memory fake processes, and a fake model store.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import { createApiService, type ApiService, type ApiServiceDeps, type ModelsPort } from '../../../src/main/api/service';
import type { StoredModelFields } from '../../../src/main/common/model-summary';
import { EngineError } from '../../../src/main/engine/types';
import { ModelStore } from '../../../src/main/engine/models/store';
import type { HistoryPort } from '../../../src/main/api/history-port';
import { AppDatabase } from '../../../src/main/history';
import { InferenceClient } from '../../../src/main/inference/client';
import { methods, ServerEvent, type GenerationEvent, type MethodName } from '../../../src/shared/api';
import { createFakeSpawner, type FakeEngine } from '../../helpers/fake-engine';
import { useTempDirs } from '../../helpers/tmp';

/** A fake model store holding "tiny" (and whatever a test adds). */
export class FakeModels implements ModelsPort {
  readonly removed: string[] = [];
  readonly models = new Map<string, StoredModelFields>([['tiny', storedModel('tiny')]]);
  list(): StoredModelFields[] {
    return [...this.models.values()];
  }
  get(id: string): StoredModelFields {
    const model = this.models.get(id);
    if (!model) throw new EngineError('not_found', `no model with id "${id}"`);
    return model;
  }
  remove(id: string): void {
    this.get(id);
    this.models.delete(id);
    this.removed.push(id);
  }
}

/** A stored model's fields with recognisable numbers. */
export function storedModel(id: string): StoredModelFields {
  return {
    id,
    name: `${id} (1K)`,
    config: { nLayer: 2, nEmbd: 32, nHead: 2, nPositions: 64, vocabSize: 50257 },
    dtype: 'F32',
    parameters: 1234,
    sizeBytes: 5678,
    importedAt: '2024-05-01T10:00:00.000Z',
  };
}

/** Returns a factory of services; everything it made is closed after each test. */
export function useServiceFixture() {
  const tempDir = useTempDirs('inkwell-api-');
  const open: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of open.splice(0).reverse()) await close();
  });

  return (options: { engine?: () => FakeEngine; deps?: Partial<ApiServiceDeps>; cancelGraceMs?: number; wrapHistory?: (history: AppDatabase) => HistoryPort } = {}) => {
    const { database: history } = AppDatabase.open(join(tempDir(), 'inkwell.db'));
    // The user's home on the back end's machine: import paths are resolved there.
    const userHome = tempDir();
    for (const folder of ['ckpt', 'bad']) mkdirSync(join(userHome, folder));
    const spawner = createFakeSpawner(options.engine);
    const inference = new InferenceClient({ spawn: spawner, ...(options.cancelGraceMs !== undefined ? { cancelGraceMs: options.cancelGraceMs } : {}) });
    const models = new FakeModels();
    const logs: string[] = [];
    const real = createApiService({
      history: options.wrapHistory ? options.wrapHistory(history) : history,
      inference,
      models,
      modelStore: new ModelStore(tempDir()),
      appInfo: { version: '9.9.9', dataDir: '/data', transport: 'http', nativeFileDialogs: false, notices: [] },
      cudaInstalled: () => false,
      machine: { homedir: userHome, hostname: 'inkwell-test-host', transport: 'http' },
      log: (line) => logs.push(line),
      ...options.deps,
    });
    // Every answer and every event of every test is checked against the contract's schemas.
    const contractProblems: string[] = [];
    const service: ApiService = {
      ...real,
      async handle(method, payload) {
        const response = await real.handle(method, payload);
        const checked = methods[method as MethodName].response.safeParse(response);
        if (!checked.success) throw new Error(`${method} answered outside its response schema: ${checked.error.message}`);
        return response;
      },
    };
    const events: ServerEvent[] = [];
    service.subscribe((event) => {
      const checked = ServerEvent.safeParse(event);
      if (!checked.success) contractProblems.push(`event outside the ServerEvent schema: ${checked.error.message}`);
      events.push(event);
    });
    open.push(async () => {
      expect(contractProblems).toEqual([]);
      await service.close();
      await inference.close();
      history.close();
    });

    const generationEvents = (generationId: string): GenerationEvent[] =>
      events.flatMap((e) => (e.channel === 'generation' && e.event.generationId === generationId ? [e.event] : []));
    const finished = async (generationId: string): Promise<GenerationEvent> => {
      for (let i = 0; i < 2000; i += 1) {
        const last = generationEvents(generationId).at(-1);
        if (last && (last.type === 'done' || last.type === 'error')) return last;
        await new Promise((r) => setTimeout(r, 2));
      }
      throw new Error(`generation ${generationId} did not finish`);
    };
    return { service, history, inference, spawner, models, logs, events, generationEvents, finished, userHome };
  };
}
