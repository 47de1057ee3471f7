/**
 * The Batch page's state against the real API service: the results file follows the prompts
 * file until the writer types one, a run's progress arrives from the batch channel, a refused
 * start over existing results offers to resume, and the resume completes the file.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { BatchPageState, resultsPathFor, uploadResultsPath } from '../../../src/renderer/src/state/batch.svelte';
import { FakeEngine } from '../../helpers/fake-engine';
import { useRendererBackend } from '../helpers/service-api';

const makeBackend = useRendererBackend();
const waitFor = <T>(fn: () => T | Promise<T>) => vi.waitFor(fn, { timeout: 10_000, interval: 5 });

describe('BatchPageState', () => {
  it('suggests a results file beside the prompts (or in the data folder for an upload) until one is typed', () => {
    expect(resultsPathFor('/data/prompts.jsonl')).toBe('/data/prompts.results.jsonl');
    expect(resultsPathFor('C:\\data\\rows.csv')).toBe('C:\\data\\rows.results.jsonl');
    expect(resultsPathFor('/data/.hidden')).toBe('/data/.hidden.results.jsonl');
    expect(uploadResultsPath('/home/w/.config/Inkwell/', 'C:\\fake\\rows.txt')).toBe('/home/w/.config/Inkwell/batches/rows.results.jsonl');
    const state = new BatchPageState({ api: { call: vi.fn() }, reporter: { notify: vi.fn(), reportError: vi.fn() }, models: () => [], defaultModelId: () => null, dataDir: () => '/home/w/Inkwell' });
    state.setPromptsPath('~/a.txt');
    expect(state.outPath).toBe('~/a.results.jsonl');
    state.setSourceKind('upload');
    state.setUpload({ name: 'b.csv', content: 'prompt\nx\n', bytes: 10 });
    expect(state.outPath).toBe('/home/w/Inkwell/batches/b.results.jsonl');
    state.setOutPath('/mine.jsonl');
    state.setSourceKind('path');
    state.setPromptsPath('~/c.txt');
    expect(state.outPath).toBe('/mine.jsonl');
  });

  it('runs a file with progress from the batch channel, offers to resume a file that holds results, and completes it', async () => {
    const backend = makeBackend({ engine: () => new FakeEngine({ stepMs: 2 }) });
    const prompts = join(backend.userHome, 'rows.txt');
    writeFileSync(prompts, 'one\ntwo\n\nfour\n');
    const models = await backend.api.call('models.list', {});
    const reportError = vi.fn();
    const state = new BatchPageState({ api: backend.api, reporter: { notify: vi.fn(), reportError }, models: () => models, defaultModelId: () => null, dataDir: () => '/data' });
    backend.service.subscribe((event) => event.channel === 'batch' && state.onEvent(structuredClone(event.state)));
    state.setPromptsPath(prompts);
    state.setParam('seed', '12');
    state.setParam('maxNewTokens', 3);
    await state.start();
    expect(state.startError).toBeNull();
    expect(state.running).toBe(true);
    await waitFor(() => expect(state.run?.status).toBe('done'));
    expect(state.run).toMatchObject({ done: 3, total: 3, skipped: 1, badRows: [{ line: 3, message: 'prompt is empty' }] });
    expect(state.fraction).toBe(1);
    await waitFor(() => expect(state.preview?.totalRows).toBe(3));
    expect(state.preview?.rows.map((r) => [r.prompt, r.seed])).toEqual([['one', 12], ['two', 13], ['four', 15]]);

    await state.start();
    expect(state.startError).toMatch(/already holds results/);
    expect(state.canResume).toBe(true);
    await state.start(true);
    await waitFor(() => expect(state.run?.status).toBe('done'));
    // Nothing was left to run: the resume writes no row twice.
    expect(state.run).toMatchObject({ alreadyDone: 3, total: 0, done: 0 });
    await waitFor(() => expect(state.preview?.totalRows).toBe(3));
    expect(reportError).not.toHaveBeenCalled();
  });

  it('refuses before calling the back end when nothing is chosen or the seed is not a number', async () => {
    const call = vi.fn();
    const model = { id: 'tiny', name: 'tiny', nLayer: 1, nEmbd: 8, nHead: 1, nPositions: 64, vocabSize: 10, parameters: 1, dtype: 'F32' as const, sizeBytes: 1, importedAt: '' };
    const state = new BatchPageState({ api: { call }, reporter: { notify: vi.fn(), reportError: vi.fn() }, models: () => [model], defaultModelId: () => null, dataDir: () => '/d' });
    await state.start();
    expect(state.startError).toMatch(/Choose a prompts file/);
    state.setPromptsPath('/p.txt');
    state.setParam('seed', 'abc');
    await state.start();
    expect(state.startError).toMatch(/The seed must be a whole number/);
    expect(call).not.toHaveBeenCalled();
  });
});
