import { describe, expect, it } from 'vitest';
import { diverging, HEAD_VIEW, headViewHit, headViewSize, modelViewHit, modelViewLayout } from '../../../src/renderer/src/lib/inspect-draw';
import { probabilityColour, windowIds } from '../../../src/renderer/src/state/inspect.svelte';

describe('head view geometry', () => {
  it('maps a point to the token row under it, on the query or key side, and nothing in the gap', () => {
    const { rowHeight, columnWidth, gap, top } = HEAD_VIEW;
    expect(headViewHit(10, top + 3 * rowHeight + 1, 10)).toEqual({ side: 'query', index: 3 });
    expect(headViewHit(columnWidth + gap + 10, top + 9 * rowHeight + rowHeight - 1, 10)).toEqual({ side: 'key', index: 9 });
    expect(headViewHit(columnWidth + gap / 2, top + rowHeight, 10)).toBeNull();
    expect(headViewHit(10, top + 10 * rowHeight, 10)).toBeNull();
    expect(headViewHit(10, top - 1, 10)).toBeNull();
  });

  it('stays inside the browser canvas limit at GPT-2 XL\'s full window', () => {
    // Chromium refuses canvases taller than 32 767 px.
    expect(headViewSize(1024).height).toBeLessThan(32_767);
  });
});

describe('model view geometry', () => {
  it('maps a point to the layer × head thumbnail under it, and nothing between thumbnails', () => {
    const overview = { layers: 36, heads: 20, size: 32 };
    const { thumb, pad, left, top } = modelViewLayout(overview);
    expect(modelViewHit(left + 19 * (thumb + pad) + 1, top + 35 * (thumb + pad) + thumb - 1, overview)).toEqual({ layer: 35, head: 19 });
    expect(modelViewHit(left + thumb + 1, top + 1, overview)).toBeNull();
    expect(modelViewHit(left - 1, top + 1, overview)).toBeNull();
    expect(modelViewHit(left + 20 * (thumb + pad) + 1, top + 1, overview)).toBeNull();
  });
});

describe('colours', () => {
  it('probability colours run from red (unlikely) to green (likely), monotonically in the log', () => {
    const hue = (lp: number) => Number(/hsl\((\d+) /.exec(probabilityColour(lp))?.[1]);
    expect(hue(Math.log(1))).toBe(120);
    expect(hue(Math.log(1e-6))).toBe(0);
    const hues = [1e-4, 1e-3, 1e-2, 0.1, 0.5].map((p) => hue(Math.log(p)));
    expect([...hues].sort((a, b) => a - b)).toEqual(hues);
    expect(new Set(hues).size).toBe(hues.length);
  });

  it('diverging colours are white at 0, red for positive and blue for negative', () => {
    expect(diverging(0)).toEqual([255, 255, 255]);
    const [r, , b] = diverging(1);
    expect(r).toBeGreaterThan(b);
    const [r2, , b2] = diverging(-1);
    expect(b2).toBeGreaterThan(r2);
  });
});

describe('windowIds', () => {
  it('keeps the last window of tokens, which is what the model reads', () => {
    expect(windowIds({ tokenIds: [1, 2, 3, 4, 5], window: 3 })).toEqual([3, 4, 5]);
    expect(windowIds({ tokenIds: [1, 2], window: 3 })).toEqual([1, 2]);
  });
});
