/**
 * The Compare page's state against the real API service: a run streams every column and ends with
 * the saved comparison, a saved comparison loads back into the form and re-runs to the same text,
 * and an output goes only to the document the writer picked.
 */
import { describe, expect, it, vi } from 'vitest';
import { CompareState, type SendTarget } from '../../../src/renderer/src/state/compare.svelte';
import type { ModelSummary } from '../../../src/shared/api';
import { FakeEngine } from '../../helpers/fake-engine';
import { storedModel } from '../../main/api/service-fixture';
import { useRendererBackend } from '../helpers/service-api';

const makeBackend = useRendererBackend();
const waitFor = <T>(fn: () => T | Promise<T>) => vi.waitFor(fn, { timeout: 5000, interval: 5 });

function setup() {
  const backend = makeBackend({ engine: () => new FakeEngine({ models: ['tiny', 'big'], sequencePieces: (_s, seed) => [' seed', ` ${seed}`] }) });
  backend.models.models.set('big', storedModel('big'));
  const models = [{ id: 'tiny' }, { id: 'big' }] as ModelSummary[];
  const sent: { target: SendTarget; text: string }[] = [];
  const compare = new CompareState({
    api: backend.api,
    reporter: { notify: vi.fn(), reportError: vi.fn() },
    models: () => models,
    nativeFileDialogs: () => false,
    sendToDocument: async (target, text) => void sent.push({ target, text }),
  });
  backend.service.subscribe((event) => event.channel === 'compare' && compare.onEvent(structuredClone(event.event)));
  return { backend, compare, sent };
}

describe('CompareState', () => {
  it('runs both columns and ends with the comparison saved as one entry', async () => {
    const { backend, compare } = setup();
    expect(compare.columns.map((c) => c.modelId)).toEqual(['tiny', 'big']);
    compare.setPrompt('Once');
    compare.setSeed(31);
    await compare.run();
    await waitFor(() => expect(compare.phase).toBe('done'));
    expect(compare.live.map((c) => [c.phase, c.text])).toEqual([['done', ' seed 31'], ['done', ' seed 31']]);
    expect(compare.comparison?.seed).toBe(31);
    expect((await backend.api.call('compare.list', {})).total).toBe(1);
    await waitFor(() => expect(compare.saved).toHaveLength(1));
  });

  it('loads a saved comparison back and re-runs it with its prompt, columns, parameters and seed', async () => {
    const { compare } = setup();
    compare.setPrompt('First prompt');
    compare.setSeed(5);
    compare.addColumn();
    compare.setColumn(2, { modelId: 'tiny', device: 'cpu' });
    await compare.run();
    await waitFor(() => expect(compare.phase).toBe('done'));
    const saved = compare.comparison!;
    compare.setPrompt('Something else');
    compare.setSeed(6);
    compare.removeColumn(2);
    await compare.rerun(saved);
    await waitFor(() => expect(compare.phase).toBe('done'));
    expect(compare.prompt).toBe('First prompt');
    expect(compare.seed).toBe(5);
    expect(compare.columns).toEqual(saved.columns.map((c) => c.spec));
    expect(compare.comparison!.id).not.toBe(saved.id);
    expect(compare.comparison!.columns.map((c) => c.text)).toEqual(saved.columns.map((c) => c.text));
  });

  it('sends an output to the picked document only, a new one with the prompt before it', async () => {
    const { compare, sent } = setup();
    compare.setPrompt('Once');
    compare.setSeed(8);
    await compare.run();
    await waitFor(() => expect(compare.phase).toBe('done'));
    await compare.send(1, { kind: 'document', id: 42 });
    await compare.send(0, { kind: 'new' });
    expect(sent).toEqual([
      { target: { kind: 'document', id: 42 }, text: ' seed 8' },
      { target: { kind: 'new' }, text: 'Once seed 8' },
    ]);
  });
});
