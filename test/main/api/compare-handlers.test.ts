/**
 * The compare block of the API service over the real inference protocol (a fake engine behind it):
 * one history entry per comparison (and none in the generation history), columns sharing the cpu
 * never overlapping in the engine, a forced fallback saved as such, search and export of saved
 * comparisons, and refusals before any work.
 */
import { describe, expect, it } from 'vitest';
import { ApiError, type CompareEvent, type Comparison } from '../../../src/shared/api';
import { FakeEngine } from '../../helpers/fake-engine';
import { RemoteStandin } from '../../helpers/remote-standin';
import { storedModel, useServiceFixture } from './service-fixture';

const makeService = useServiceFixture();

function compareService(stepMs = 4) {
  const fixture = makeService({
    engine: () => new FakeEngine({ models: ['tiny', 'big'], stepMs, sequencePieces: (_s, seed) => [' seed', ` ${seed}`, ' words'] }),
  });
  fixture.models.models.set('big', storedModel('big'));
  const compareEvents = (id: string): CompareEvent[] => fixture.events.flatMap((e) => (e.channel === 'compare' && e.event.comparisonId === id ? [e.event] : []));
  const finished = async (id: string): Promise<CompareEvent> => {
    for (let i = 0; i < 3000; i += 1) {
      const last = compareEvents(id).at(-1);
      if (last && (last.type === 'done' || last.type === 'error')) return last;
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error(`comparison ${id} did not finish`);
  };
  return { ...fixture, compareEvents, finished };
}

async function runDone(fixture: ReturnType<typeof compareService>, request: unknown): Promise<Comparison> {
  const { comparisonId } = (await fixture.service.handle('compare.start', request)) as { comparisonId: string };
  const last = await fixture.finished(comparisonId);
  if (last.type !== 'done') throw new Error(`comparison failed: ${JSON.stringify(last)}`);
  return last.comparison;
}

describe('compare handlers', () => {
  it('saves one history entry per comparison, and none in the generation history', async () => {
    const fixture = compareService();
    const request = { prompt: 'The keeper', columns: [{ modelId: 'tiny' }, { modelId: 'big' }], params: { seed: 17, maxNewTokens: 3 } };
    const first = await runDone(fixture, request);
    const second = await runDone(fixture, request);
    expect(first.id).not.toBe(second.id);
    expect((await fixture.service.handle('compare.list', {})) as { total: number }).toMatchObject({ total: 2 });
    expect((await fixture.service.handle('history.list', {})) as { total: number }).toMatchObject({ total: 0 });
    expect(await fixture.service.handle('compare.get', { id: first.id })).toEqual(first);
    expect(first.columns.map((c) => c.text)).toEqual([' seed 17 words', ' seed 17 words']);
    expect(first.seed).toBe(17);
    expect(first.perplexity).toHaveLength(2);
  });

  it('runs two cpu columns one after another in the engine', async () => {
    let engine: FakeEngine | undefined;
    const fixture = makeService({ engine: () => (engine = new FakeEngine({ models: ['tiny', 'big'], stepMs: 10 })) });
    fixture.models.models.set('big', storedModel('big'));
    const { comparisonId } = (await fixture.service.handle('compare.start', { prompt: 'x', columns: [{ modelId: 'tiny', device: 'cpu' }, { modelId: 'big', device: 'auto' }] })) as { comparisonId: string };
    for (let i = 0; i < 3000 && !fixture.events.some((e) => e.channel === 'compare' && e.event.comparisonId === comparisonId && e.event.type === 'done'); i++) await new Promise((r) => setTimeout(r, 2));
    const spans = engine!.spans;
    expect(spans.map((s) => s.modelId)).toEqual(['tiny', 'big']);
    expect(spans[1]!.start).toBeGreaterThanOrEqual(spans[0]!.end);
    expect(engine!.peakRunningSequences).toBe(1);
  });

  it('saves a forced fallback with its reason', async () => {
    const fixture = compareService();
    const comparison = await runDone(fixture, { prompt: 'x', columns: [{ modelId: 'tiny', device: 'cpu' }, { modelId: 'big', device: 'webgpu' }] });
    expect(comparison.columns[1]).toMatchObject({ device: 'cpu', spec: { device: 'webgpu' }, lane: 'cpu', deviceFallbackReason: 'webgpu failed, using cpu: no adapter' });
    expect(comparison.columns[0]!.deviceFallbackReason).toBeUndefined();
  });

  it('finds saved comparisons by their outputs and exports them', async () => {
    const fixture = compareService();
    const saved = await runDone(fixture, { prompt: 'Lighthouse', columns: [{ modelId: 'tiny' }, { modelId: 'big' }], params: { seed: 4242 } });
    expect((await fixture.service.handle('compare.list', { query: '4242' })) as { total: number }).toMatchObject({ total: 1 });
    expect((await fixture.service.handle('compare.list', { query: 'nowhere-to-be-found' })) as { total: number }).toMatchObject({ total: 0 });
    expect((await fixture.service.handle('compare.list', { modelId: 'big' })) as { total: number }).toMatchObject({ total: 1 });
    const json = (await fixture.service.handle('compare.export', { format: 'json' })) as { content: string };
    expect(JSON.parse(json.content)).toEqual([saved]);
    const md = (await fixture.service.handle('compare.export', { format: 'markdown', ids: [saved.id] })) as { content: string };
    expect(md.content).toContain(`## Comparison ${saved.id}`);
    expect(await fixture.service.handle('compare.delete', { id: saved.id })).toEqual({ deleted: true });
    await expect(fixture.service.handle('compare.get', { id: saved.id })).rejects.toMatchObject({ kind: 'not_found' });
  });

  it('refuses one column, an unknown model and a read-only history before any work', async () => {
    const fixture = compareService();
    await expect(fixture.service.handle('compare.start', { prompt: 'x', columns: [{ modelId: 'tiny' }] })).rejects.toMatchObject({ kind: 'invalid_request' });
    await expect(fixture.service.handle('compare.start', { prompt: 'x', columns: [{ modelId: 'tiny' }, { modelId: 'nope' }] })).rejects.toMatchObject({ kind: 'not_found' });
    const readOnly = makeService({ wrapHistory: (real) => ({ readOnly: true, generations: real.generations, documents: real.documents, settings: real.settings, comparisons: real.comparisons }) });
    const error = await readOnly.service.handle('compare.start', { prompt: 'x', columns: [{ modelId: 'tiny' }, { modelId: 'tiny' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).kind).toBe('read_only');
  });

  it('saves a comparison with a remote column, found by its remote model id, with its memory as not measured, and exports it saying so', async () => {
    const standin = await RemoteStandin.start('vllm');
    try {
      const fixture = compareService();
      await fixture.service.handle('remoteEngines.save', { engine: { name: 'lab', baseUrl: standin.origin } });
      standin.completions.push({ fixture: 'completions-stream.sse' }, { fixture: 'completions-echo-score.json' }, { fixture: 'completions-echo-score.json' });
      const saved = await runDone(fixture, { prompt: 'The lighthouse keeper', columns: [{ modelId: 'tiny' }, { modelId: 'remote:lab/gpt2-large' }], params: { seed: 5, maxNewTokens: 4 } });
      expect(saved.columns[1]).toMatchObject({ status: 'done', device: 'remote', lane: 'remote:lab', peakRssBytes: null, text: ' was a café owner', tokenizedBy: 'tiny' });
      expect(saved.columns[1]!.tokenIds.length).toBeGreaterThan(0);
      expect(saved.perplexity[0]![1]).toEqual(expect.any(Number));
      expect((await fixture.service.handle('compare.list', { modelId: 'remote:lab/gpt2-large' })) as { total: number }).toMatchObject({ total: 1 });
      const md = (await fixture.service.handle('compare.export', { format: 'markdown', ids: [saved.id] })) as { content: string };
      expect(md.content).toContain('| 2. remote:lab/gpt2-large on remote: lab | remote: lab |');
    } finally {
      await standin.close();
    }
  });

  it('refuses a remote column on an engine Settings does not have before any work', async () => {
    const fixture = compareService();
    await expect(fixture.service.handle('compare.start', { prompt: 'x', columns: [{ modelId: 'tiny' }, { modelId: 'remote:nowhere/gpt2' }] })).rejects.toMatchObject({ kind: 'not_found', message: expect.stringContaining('nowhere') });
  });
});
