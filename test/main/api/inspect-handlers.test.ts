/**
 * The inspect methods through the real service and InferenceClient, over the fake process link
 * (messages structured-cloned as between processes), against the scripted engine's inspector.
 */
import { describe, expect, it } from 'vitest';
import { AdmissionQueue } from '../../../src/main/inference/admission';
import { ApiError } from '../../../src/shared/api';
import { decodeHalfs, trilIndex, type AttentionLayer, type InspectSummary } from '../../../src/shared/inspect';
import { useServiceFixture } from './service-fixture';

const makeService = useServiceFixture();

describe('inspect methods', () => {
  it('return one layer of attention as float16 triangles that decode to the engine values', async () => {
    const { service } = makeService();
    const target = { modelId: 'tiny', text: 'a b c d' };
    const summary = (await service.handle('inspect.run', { target })) as InspectSummary;
    expect(summary).toMatchObject({ layers: 2, heads: 2, tokenIds: [0, 1, 2, 3] });
    const layer = (await service.handle('inspect.attention', { target, layer: 1 })) as AttentionLayer;
    expect(layer.data).toBeInstanceOf(Uint16Array);
    const values = decodeHalfs(layer.data);
    // The scripted engine's rows are uniform: 1/(i+1) on every key; float16 keeps 2^-11 relative.
    for (let h = 0; h < 2; h++) for (let i = 0; i < 4; i++) for (let j = 0; j <= i; j++) expect(values[trilIndex(4, h, i, j)]).toBeCloseTo(1 / (i + 1), 3);
  });

  it('a remote model gets a plain message that attention needs a local model', async () => {
    const { service, spawner } = makeService();
    const error = await service.handle('inspect.run', { target: { modelId: 'remote:lab/gpt2-large', text: 'Hello' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ kind: 'refused' });
    expect((error as ApiError).message).toMatch(/needs? a local model/);
    expect(spawner.spawned[0]?.engine.calls.some((c) => c.method === 'inspect') ?? false).toBe(false);
  });

  it('an inspect pass larger than the machine bound is refused before the process runs it', async () => {
    const admission = new AdmissionQueue({ maxSequences: 8, maxBytes: 1000, maxQueuedSequences: 0 });
    const { service, spawner } = makeService({ deps: { admission } });
    const error = await service.handle('inspect.run', { target: { modelId: 'tiny', text: 'a b c' } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'refused' });
    expect(spawner.spawned[0]?.engine.calls.some((c) => c.method === 'inspect') ?? false).toBe(false);
  });

  it('an unknown model is not_found and a bad target is invalid_request', async () => {
    const { service } = makeService();
    await expect(service.handle('inspect.run', { target: { modelId: 'nope', text: 'x' } })).rejects.toMatchObject({ kind: 'not_found' });
    await expect(service.handle('inspect.run', { target: { modelId: 'tiny', text: 'x', tokenIds: [1] } })).rejects.toMatchObject({ kind: 'invalid_request' });
    await expect(service.handle('inspect.attention', { target: { modelId: 'tiny', text: 'x' }, layer: -1 })).rejects.toMatchObject({ kind: 'invalid_request' });
  });
});
