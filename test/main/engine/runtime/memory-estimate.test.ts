/**
 * The memory estimate against the resident set sizes `npm run bench` measured
 * on the real GPT-2 and GPT-2 Large shapes (docs/performance.md, 2026-11-26,
 * fp32 CPU), and the free-memory probe on Linux files and in a container.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogEntry, type CatalogModel } from '../../../../src/main/engine/models/catalog';
import { availableMemory, checkMemory, estimateMemory } from '../../../../src/main/engine/runtime/memory-estimate';
import { useTempDirs } from '../../../helpers/tmp';

const tempDir = useTempDirs('inkwell-mem-');
const MIB = 1024 * 1024;
const dims = (alias: string) => (catalogEntry(alias) as CatalogModel).dims;

describe('estimateMemory', () => {
  it.each([
    ['gpt2', 1, 811],
    ['gpt2', 512, 1035],
    ['gpt2-large', 1, 3388],
    ['gpt2-large', 512, 4002],
  ])('%s after a %d-token prefill is within 10%% of the %d MiB the bench measured', (alias, length, measuredMiB) => {
    const estimate = estimateMemory(dims(alias), 'fp32', { batch: 1, sequenceLength: length });
    expect(Math.abs(estimate.totalBytes / MIB - measuredMiB) / measuredMiB).toBeLessThan(0.1);
    expect(estimate.totalBytes).toBe(Math.round(estimate.weightsBytes + estimate.kvCacheBytes + estimate.workspaceBytes + estimate.runtimeBytes));
  });

  it('grows with batch and length, is capped at the context window, and shrinks with the precision', () => {
    const d = dims('gpt2');
    const one = estimateMemory(d, 'fp32', { batch: 1, sequenceLength: 1024 });
    const four = estimateMemory(d, 'fp32', { batch: 4, sequenceLength: 1024 });
    expect(four.kvCacheBytes).toBe(4 * one.kvCacheBytes);
    // 2 (K, V) x 12 layers x 1024 positions x 768 x 4 bytes, held three times.
    expect(one.kvCacheBytes).toBe(3 * 2 * 12 * 1024 * 768 * 4);
    expect(estimateMemory(d, 'fp32', { batch: 1, sequenceLength: 5000 })).toEqual(one);
    expect(estimateMemory(d, 'int4', { batch: 1, sequenceLength: 1024 }).totalBytes).toBeLessThan(estimateMemory(d, 'int8', { batch: 1, sequenceLength: 1024 }).totalBytes);
  });
});

describe('availableMemory and checkMemory', () => {
  function files(meminfo: string, max?: string, current?: string) {
    const dir = tempDir();
    writeFileSync(join(dir, 'meminfo'), meminfo);
    if (max !== undefined) writeFileSync(join(dir, 'max'), max);
    if (current !== undefined) writeFileSync(join(dir, 'current'), current);
    return { meminfo: join(dir, 'meminfo'), cgroupMax: join(dir, 'max'), cgroupCurrent: join(dir, 'current') };
  }

  it("reads MemAvailable on Linux, and a container's cgroup limit when it is lower", () => {
    const meminfo = 'MemTotal:       24683568 kB\nMemFree:         1000000 kB\nMemAvailable:   20166988 kB\n';
    expect(availableMemory('linux', files(meminfo))).toMatchObject({ availableBytes: 20166988 * 1024, source: 'MemAvailable' });
    expect(availableMemory('linux', files(meminfo, 'max\n', '100'))).toMatchObject({ source: 'MemAvailable' });
    expect(availableMemory('linux', files(meminfo, String(4 * 1024 ** 3), String(1024 ** 3)))).toMatchObject({ availableBytes: 3 * 1024 ** 3, source: 'cgroup' });
    expect(availableMemory('darwin').source).toBe('os.freemem');
    expect(availableMemory('linux', files('MemTotal: 1 kB\n')).source).toBe('os.freemem');
  });

  it('warns when a model does not fit and names the precisions that would', () => {
    const large = dims('gpt2-large');
    const available = { availableBytes: 3 * 1024 ** 3, totalBytes: 8 * 1024 ** 3, source: 'MemAvailable' as const };
    const verdict = checkMemory(large, 'fp32', { batch: 1, sequenceLength: 1024 }, available);
    expect(verdict.fits).toBe(false);
    expect(verdict.shortfallBytes).toBeGreaterThan(1024 ** 3);
    expect(verdict.warning).toMatch(/^this model in fp32 needs about 4\.\d GiB for 1 × 1024 tokens, and 3\.0 GiB is available/);
    expect(verdict.warning).toMatch(/int8 \([\d.]+ GiB\) or int4 \([\d.]+ GiB\) would fit\.$/);
    expect(verdict.warning).not.toContain('fp16');
    const gpu = checkMemory(large, 'fp32', { batch: 1, sequenceLength: 1024 }, available, ['fp16', 'int8', 'int4']);
    expect(gpu.warning).toMatch(/fp16 \([\d.]+ GiB\) or int8 .* or int4 .* would fit\.$/);
    expect(checkMemory(large, 'int4', { batch: 1, sequenceLength: 1024 }, { ...available, availableBytes: 16 * 1024 ** 3 })).toEqual({ fits: true, shortfallBytes: 0 });
    expect(checkMemory(large, 'int4', { batch: 1, sequenceLength: 1024 }, { ...available, availableBytes: 1e8 }).warning).toContain('Close other programs');
  });
});
