/**
 * Memory honesty in the engine (issue 9 §6): running out of memory while a model loads or
 * generates falls back to a smaller precision (or the CPU) with a message instead of an internal
 * error, a load reports its progress and what it holds, and a load whose estimate does not fit
 * the free memory unloads idle models first.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/main/engine';
import { isOutOfMemory } from '../../../src/main/engine/runtime/out-of-memory';
import { openDecoder, type DecoderSession } from '../../../src/main/engine/runtime';
import { GenerationParams } from '../../../src/shared/api';
import { makeRandomCheckpoint } from '../../helpers/checkpoint-factory';
import { useTempDirs } from '../../helpers/tmp';

const tempDir = useTempDirs('inkwell-oom-');
const GIB = 1024 ** 3;

/** onnxruntime's own words when the CPU arena cannot grow (BFCArena::AllocateRawInternal). */
const ortAllocationFailure = (): Error => new Error('Failed to allocate memory for requested buffer of size 98304000');

async function engineWith(options: { failOpen?: (precision: string) => boolean; availableBytes?: () => number; variants?: ('int8' | 'int4')[] }) {
  const home = tempDir();
  await makeRandomCheckpoint(join(home, 'src'), { nLayer: 1, nEmbd: 32, nHead: 2, nPositions: 32, seed: 41 });
  const opened: string[] = [];
  const engine = new Engine({
    home,
    probeDevices: async () => [{ name: 'cpu', available: true }],
    availableMemory: () => ({ availableBytes: options.availableBytes?.() ?? 64 * GIB, totalBytes: 64 * GIB, source: 'MemAvailable' }),
    openDecoder: async (paths, config, device): Promise<DecoderSession> => {
      const precision = paths.decoderPath.split(/[\\/]/).slice(-2)[0] === 'onnx' ? 'fp32' : (paths.decoderPath.split(/[\\/]/).slice(-2)[0] ?? '?');
      opened.push(precision);
      if (options.failOpen?.(precision)) throw ortAllocationFailure();
      return openDecoder(paths, config, device);
    },
  });
  await engine.models.import(join(home, 'src'), 'm');
  for (const p of options.variants ?? []) await engine.models.convert('m', p, { measure: false });
  return { engine, opened, home };
}

describe('isOutOfMemory', () => {
  it("recognises onnxruntime's, the C++ runtime's, CUDA's and V8's allocation failures, and nothing else", () => {
    expect(isOutOfMemory(ortAllocationFailure())).toBe(true);
    expect(isOutOfMemory(new Error('std::bad_alloc'))).toBe(true);
    expect(isOutOfMemory(new Error('CUDA failure 2: out of memory ; GPU=0'))).toBe(true);
    expect(isOutOfMemory(new RangeError('Array buffer allocation failed'))).toBe(true);
    expect(isOutOfMemory(new Error('wrapped', { cause: ortAllocationFailure() }))).toBe(true);
    expect(isOutOfMemory(new Error('Invalid input name: input_ids'))).toBe(false);
    expect(isOutOfMemory(new RangeError('Invalid array length'))).toBe(false);
  });
});

describe('Engine out of memory', () => {
  it('a load that runs out of memory in fp32 falls back to the int8 variant and says so', async () => {
    const { engine, opened } = await engineWith({ failOpen: (p) => p === 'fp32', variants: ['int8'] });
    try {
      const progress: string[] = [];
      const outcome = await engine.load('m', { precision: 'fp32', device: 'cpu', onProgress: (p) => progress.push(p.phase) });
      expect(outcome.precision).toBe('int8');
      expect(outcome.fallbackReason).toMatch(/ran out of memory loading fp32 weights on the cpu \(Failed to allocate memory.*\); int8 on the cpu instead/);
      expect(opened).toEqual(['fp32', 'int8']);
      expect(progress).toContain('reading');
      expect(progress.at(-1)).toBe('ready');
      expect(engine.loadedDetails()).toEqual([{ modelId: 'm', device: 'cpu', precision: 'int8', residentBytes: expect.any(Number) }]);
      // A generation asking for fp32 goes straight to the fallback, and its outcome carries the reason.
      const result = await engine.generate({ modelId: 'm', prompt: 'Hello', params: GenerationParams.parse({ maxNewTokens: 2, precision: 'fp32', device: 'cpu' }) });
      expect(result.precision).toBe('int8');
      expect(result.deviceFallbackReason).toMatch(/ran out of memory loading fp32/);
      expect(opened).toEqual(['fp32', 'int8']);
    } finally {
      await engine.dispose();
    }
  });

  it('with no smaller variant, running out of memory is a refusal that says what to do, not an internal error', async () => {
    const { engine } = await engineWith({ failOpen: () => true });
    try {
      const generation = engine.generate({ modelId: 'm', prompt: 'Hello', params: GenerationParams.parse({ maxNewTokens: 2, device: 'cpu' }) });
      await expect(generation).rejects.toMatchObject({ kind: 'refused', message: expect.stringMatching(/does not fit in memory.*make an int8 or int4 variant/) });
    } finally {
      await engine.dispose();
    }
  });

  it('a load whose estimate does not fit the free memory unloads the least recently used idle model first', async () => {
    let free = 64 * GIB;
    const { engine, home } = await engineWith({ availableBytes: () => free });
    try {
      await makeRandomCheckpoint(join(home, 'src2'), { nLayer: 1, nEmbd: 32, nHead: 2, nPositions: 32, seed: 42 });
      await engine.models.import(join(home, 'src2'), 'other');
      await engine.load('other', { device: 'cpu', precision: 'fp32' });
      free = 1024; // nothing fits now
      const outcome = await engine.load('m', { device: 'cpu', precision: 'fp32' });
      expect(outcome.unloaded).toEqual(['other (fp32)']);
      expect(engine.loaded().map((d) => d.modelId)).toEqual(['m']);
    } finally {
      await engine.dispose();
    }
  });
});
