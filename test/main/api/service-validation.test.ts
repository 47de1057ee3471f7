/**
 * Hostile requests: every method refuses wrong types, extra keys, oversized
 * text and out-of-range numbers with invalid_request, and nothing changes
 * (row counts, settings, no inference process started, no model removed).
 */
import { describe, expect, it } from 'vitest';
import { ApiError, GenerationParams, methodNames, type MethodName } from '../../../src/shared/api';
import { useServiceFixture } from './service-fixture';

const makeService = useServiceFixture();
const tenMegabytes = 'x'.repeat(10 * 1024 * 1024);
const params = GenerationParams.parse({});

/** Payloads every method must refuse. */
const refusedByAll: unknown[] = [42, 'text', true, [], [{}], { bogus: 1 }, { __proto__: { polluted: true }, constructor: 1 }];

/** Method-specific hostile payloads. */
const hostile: Partial<Record<MethodName, unknown[]>> = {
  'models.import': [{ path: '', id: 'x' }, { path: '/m', id: '../escape' }, { path: '/m', id: 'a'.repeat(65) }, { path: '/m', id: 'con' }, { path: '/m', id: 'LPT1.txt' }, { path: 5, id: 'x' }, { path: 'p'.repeat(5000), id: 'x' }],
  'models.remove': [{ id: '' }, { id: '..' }, { id: 'x/y' }, { id: 7 }, { id: 'nul' }],
  'generate.start': [
    { modelId: 'tiny', prompt: tenMegabytes, params },
    { modelId: 'tiny', prompt: 'ok', memory: tenMegabytes, params },
    { modelId: 'tiny', prompt: 'ok', params: { ...params, maxNewTokens: -1 } },
    { modelId: 'tiny', prompt: 'ok', params: { ...params, maxNewTokens: 0 } },
    { modelId: 'tiny', prompt: 'ok', params: { ...params, maxNewTokens: 1_000_000_000 } },
    { modelId: 'tiny', prompt: 'ok', params: { ...params, maxNewTokens: 2.5 } },
    { modelId: 'tiny', prompt: 'ok', params: { ...params, maxNewTokens: '40' } },
    { modelId: 'tiny', prompt: 'ok', params: { ...params, numReturnSequences: 1000 } },
    { modelId: 'tiny', prompt: 'ok', params: { ...params, temperature: -1 } },
    { modelId: 'tiny', prompt: 'ok', params: { ...params, seed: -1 } },
    { modelId: 'tiny', prompt: 'ok', params: { ...params, seed: 2 ** 40 } },
    { modelId: 'tiny', prompt: 'ok', params: { ...params, stop: ['s'.repeat(1000)] } },
    { modelId: 'tiny', prompt: 'ok', params: { ...params, device: 'tpu' } },
    { modelId: 'tiny', prompt: 'ok', params: { ...params, extra: 1 } },
    { modelId: 'tiny', prompt: 'ok', params, documentId: -3 },
    { modelId: 'tiny', prompt: 42, params },
    { prompt: 'ok', params },
    { modelId: 'aux', prompt: 'ok', params },
  ],
  'generate.cancel': [{ generationId: '' }, { generationId: 'g'.repeat(65) }, { generationId: 1 }],
  tokenize: [{ modelId: 'tiny', text: tenMegabytes }, { modelId: 'tiny' }, { modelId: 'tiny', text: null }],
  'history.list': [{ limit: -1 }, { limit: 1_000_000_000 }, { offset: -1 }, { query: 'q'.repeat(10_000) }, { from: 'yesterday' }, { modelId: '../x' }],
  'history.get': [{ id: -1 }, { id: 0 }, { id: 1.5 }, { id: '1' }, { id: 2 ** 60 }],
  'history.star': [{ id: 1 }, { id: 1, starred: 'yes' }],
  'history.accept': [{ id: 1, candidateIndex: -1 }, { id: 1, candidateIndex: 99 }, { id: 1 }],
  'history.delete': [{ id: -5 }, { ids: [1] }],
  'history.export': [{ format: 'pdf' }, { format: 'json', from: 'yesterday' }, { format: 'json', query: 'q'.repeat(10_000) }, { format: 'json', limit: 5 }, { format: 'json', ids: Array.from({ length: 20_000 }, (_, i) => i + 1) }, { format: 'json', ids: [0] }],
  'documents.get': [{ id: 'one' }],
  'documents.create': [{ title: 't'.repeat(1000) }, { content: tenMegabytes }, { title: 5 }],
  'documents.save': [{ id: 1, content: tenMegabytes }, { id: 1, memory: tenMegabytes }, { id: 1, title: '' }, { id: 1, authorsNote: 3 }, { content: 'no id' }],
  'documents.delete': [{ id: null }],
  'files.save': [{ suggestedName: '', content: 'x' }, { suggestedName: 'a.txt', content: tenMegabytes }, { suggestedName: 'n'.repeat(300), content: 'x' }],
  'settings.set': [{ theme: 'neon' }, { generation: { ...params, maxNewTokens: -1 } }, { authorsNoteDepth: 1000 }, { unknownKey: 1 }, { defaultModelId: '../../x' }],
};

describe('ApiService validation', () => {
  it('declares hostile payloads only for real methods', () => {
    for (const method of Object.keys(hostile)) expect(methodNames).toContain(method);
  });

  it('refuses every hostile request with invalid_request and changes nothing', async () => {
    const { service, history, spawner, models } = makeService();
    const document = history.documents.create('Draft', 'Once upon a time');
    const before = {
      total: history.generations.list({}).total,
      documents: JSON.stringify(history.documents.list()),
      document: JSON.stringify(history.documents.get(document.id)),
      settings: JSON.stringify(history.settings.get()),
    };

    const cases: [string, unknown][] = [
      ...methodNames.flatMap((method) => refusedByAll.map((payload): [string, unknown] => [method, payload])),
      ...Object.entries(hostile).flatMap(([method, payloads]) => (payloads ?? []).map((payload): [string, unknown] => [method, payload])),
      ['no.such.method', {}],
      ['__proto__', {}],
      ['constructor', {}],
      ['m'.repeat(10_000), {}],
    ];
    for (const [method, payload] of cases) {
      let thrown: unknown;
      try {
        await service.handle(method, payload);
      } catch (error) {
        thrown = error;
      }
      const label = `${method.slice(0, 40)} ${JSON.stringify(payload)?.slice(0, 80)}`;
      expect(thrown, label).toBeInstanceOf(ApiError);
      expect((thrown as ApiError).kind, label).toBe('invalid_request');
      expect((thrown as ApiError).message.length, label).toBeLessThan(500);
    }

    expect(history.generations.list({}).total).toBe(before.total);
    expect(JSON.stringify(history.documents.list())).toBe(before.documents);
    expect(JSON.stringify(history.documents.get(document.id))).toBe(before.document);
    expect(JSON.stringify(history.settings.get())).toBe(before.settings);
    expect(spawner.spawned).toHaveLength(0);
    expect(models.removed).toEqual([]);
  });

  it('names the offending field', async () => {
    const { service } = makeService();
    await expect(service.handle('generate.start', { modelId: 'tiny', prompt: 'ok', params: { ...params, maxNewTokens: -1 } })).rejects.toMatchObject({
      kind: 'invalid_request',
      message: expect.stringContaining('params.maxNewTokens'),
    });
    await expect(service.handle('history.get', { id: 1, extra: true })).rejects.toMatchObject({ message: expect.stringContaining('extra') });
  });
});
