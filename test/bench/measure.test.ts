import { describe, expect, it } from 'vitest';
import { selfDraftFor } from '../../bench/measure';
import { PRECISIONS } from '../../src/main/engine/precision';

describe('bench self-drafts', () => {
  it('each precision with a speculative case is drafted by a variant with fewer bits per weight; int4 has none', () => {
    const bits = { fp32: 32, fp16: 16, int8: 8, int4: 4 } as const;
    for (const precision of PRECISIONS) {
      const draft = selfDraftFor(precision);
      if (precision === 'int4') expect(draft).toBeUndefined();
      else expect(bits[draft!.draftPrecision]).toBeLessThan(bits[precision]);
    }
    expect(selfDraftFor('fp32')).toEqual({ draftPrecision: 'int8', draftTokens: 'auto' });
  });
});
