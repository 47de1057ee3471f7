/**
 * Compare's pure arithmetic: perplexity, the first divergence, the device each column will run on,
 * the lanes that decide which columns run at once, and the Markdown export.
 */
import { describe, expect, it } from 'vitest';
import { deviceLanes, firstDivergence, formatComparisonExport, perplexityOf, predictDevice } from '../../src/shared/compare';
import { AUTO_DEVICE_ORDER, Comparison, type DeviceName } from '../../src/shared/api';

describe('compare arithmetic', () => {
  it('perplexity is exp of the mean negative log-probability', () => {
    // Two tokens at p = 1/2 and 1/8: mean −log p = (ln 2 + ln 8) / 2 = 2 ln 2, so perplexity 4.
    expect(perplexityOf([Math.log(1 / 2), Math.log(1 / 8)])).toBeCloseTo(4, 12);
    expect(perplexityOf([])).toBeNull();
  });

  it('finds the first position where any column differs, an ended column counting as different', () => {
    expect(firstDivergence([[1, 2, 3], [1, 2, 4]])).toBe(2);
    expect(firstDivergence([[1, 2, 3], [1, 2, 3], [9]])).toBe(0);
    expect(firstDivergence([[1, 2], [1, 2, 3]])).toBe(2);
    expect(firstDivergence([[1, 2], [1, 2]])).toBeNull();
  });

  it('predicts the cpu for an unavailable device and the first available one for auto', () => {
    const cpuOnly = new Set<DeviceName>(['cpu']);
    expect(predictDevice('webgpu', cpuOnly, AUTO_DEVICE_ORDER)).toBe('cpu');
    expect(predictDevice('auto', cpuOnly, AUTO_DEVICE_ORDER)).toBe('cpu');
    expect(predictDevice('auto', new Set<DeviceName>(['cpu', 'webgpu']), AUTO_DEVICE_ORDER)).toBe('webgpu');
    expect(predictDevice('cuda', new Set<DeviceName>(['cpu', 'cuda']), AUTO_DEVICE_ORDER)).toBe('cuda');
  });

  it('groups columns by device in column order', () => {
    expect(deviceLanes(['cpu', 'webgpu', 'cpu', 'cuda'])).toEqual([
      { device: 'cpu', columns: [0, 2] },
      { device: 'webgpu', columns: [1] },
      { device: 'cuda', columns: [3] },
    ]);
  });

  it('exports Markdown with the figures, the matrix, the divergence, and outputs fenced against backticks', () => {
    const column = (modelId: string, text: string, ids: number[]) => ({
      spec: { modelId, precision: 'auto' as const, device: 'cpu' as const },
      status: 'done' as const,
      device: 'cpu' as const,
      precision: 'fp32' as const,
      lane: 'cpu' as const,
      text,
      tokenIds: ids,
      finishReason: 'length' as const,
      promptTokens: 2,
      truncatedPromptTokens: 0,
      timings: { loadMs: 1, prefillMs: 2, decodeMs: 3, tokensPerSecond: 42.5 },
      ttftMs: 12,
      totalMs: 100,
      peakRssBytes: 200 * 1024 * 1024,
      startedAtMs: 0,
      endedAtMs: 100,
    });
    const entry = Comparison.parse({
      id: 3,
      createdAt: '2026-12-02T01:00:00.000Z',
      prompt: 'Once',
      params: { seed: 7 },
      seed: 7,
      columns: [column('gpt2', ' upon ```a', [1, 2]), column('gpt2-large', ' more', [3])],
      perplexity: [[1.5, 20], [30, 2.5]],
      divergence: { position: 0, commonText: '', tokens: [{ column: 0, tokenId: 1, text: ' upon', probabilities: [0.5, 0.01] }, { column: 1, tokenId: 3, text: ' more', probabilities: [0.02, 0.4] }] },
    });
    const file = formatComparisonExport([entry], 'markdown', new Date('2026-12-02T02:00:00Z'));
    expect(file.filename).toBe('inkwell-comparisons-20261202-020000.md');
    expect(file.content).toContain('| 1. gpt2 fp32 on cpu | cpu | 12 | 42.5 | 100 | 200 |');
    expect(file.content).toContain('| 2. gpt2-large fp32 on cpu | 30.00 | 2.50 |');
    expect(file.content).toContain('````text\n upon ```a\n````');
    expect(file.content).toContain('Column 2 wrote " more"');
    const json = formatComparisonExport([entry], 'json', new Date('2026-12-02T02:00:00Z'));
    expect(Comparison.array().parse(JSON.parse(json.content))).toEqual([entry]);
  });
});
