import { describe, expect, it } from 'vitest';
import {
  applyRepetitionPenalty, applyTemperature, banTokens, NgramBlocker,
} from '../../../../src/main/engine/generate/logits-processors';

/** HF NoRepeatNGramLogitsProcessor written the straightforward way (_get_ngrams + _get_generated_ngrams). */
function referenceBannedTokens(ids: readonly number[], n: number): number[] {
  const curLen = ids.length;
  if (curLen + 1 < n) return [];
  const banned = new Set<number>();
  const prefix = ids.slice(curLen + 1 - n, curLen);
  for (let j = 0; j + n <= curLen; j++) {
    const gram = ids.slice(j, j + n);
    if (gram.slice(0, n - 1).every((t, k) => t === prefix[k])) banned.add(gram[n - 1] as number);
  }
  return [...banned].sort((a, b) => a - b);
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x1_0000_0000;
  };
}

describe('applyRepetitionPenalty', () => {
  it('divides positive and multiplies negative logits of seen tokens once each (HF semantics)', () => {
    const row = Float32Array.from([2, -2, 0, 4, -1]);
    applyRepetitionPenalty(row, new Set([0, 1, 2, 0]), 2);
    expect(Array.from(row)).toEqual([1, -4, 0, 4, -1]);
  });

  it('matches a reference on random rows, including tokens repeated in the sequence', () => {
    const rand = lcg(7);
    for (let trial = 0; trial < 20; trial++) {
      const v = 50;
      const row = Float32Array.from({ length: v }, () => rand() * 10 - 5);
      const sequence = Array.from({ length: 30 }, () => Math.floor(rand() * v));
      const penalty = 0.5 + rand() * 2;
      const expected = Float32Array.from(row);
      for (const t of new Set(sequence)) {
        const score = expected[t] as number;
        expected[t] = score < 0 ? score * penalty : score / penalty;
      }
      applyRepetitionPenalty(row, new Set(sequence), penalty);
      expect(Array.from(row)).toEqual(Array.from(expected));
    }
  });

  it('leaves the row alone at penalty 1', () => {
    const row = Float32Array.from([1, -1]);
    applyRepetitionPenalty(row, [0, 1], 1);
    expect(Array.from(row)).toEqual([1, -1]);
  });
});

describe('applyTemperature and banTokens', () => {
  it('divides every logit by the temperature', () => {
    const row = Float32Array.from([1, -2, 0.5]);
    applyTemperature(row, 0.5);
    expect(Array.from(row)).toEqual([2, -4, 1]);
  });

  it('sets banned tokens to -Infinity and ignores ids outside the row', () => {
    const row = Float32Array.from([1, 2, 3]);
    banTokens(row, [2, 7, -1]);
    expect(Array.from(row)).toEqual([1, 2, Number.NEGATIVE_INFINITY]);
  });
});

describe('NgramBlocker', () => {
  it('bans the token that would repeat a bigram', () => {
    const blocker = new NgramBlocker(2);
    for (const t of [5, 6, 7, 5]) blocker.push(t);
    expect([...blocker.bannedNext()]).toEqual([6]);
  });

  it('bans nothing before the sequence holds n-1 tokens', () => {
    const blocker = new NgramBlocker(3);
    expect([...blocker.bannedNext()]).toEqual([]);
    blocker.push(1);
    expect([...blocker.bannedNext()]).toEqual([]);
  });

  it('with n = 1 bans every token seen', () => {
    const blocker = new NgramBlocker(1);
    for (const t of [3, 1, 3]) blocker.push(t);
    expect([...blocker.bannedNext()].sort()).toEqual([1, 3]);
  });

  it('agrees with the HF reference at every length of random low-entropy sequences', () => {
    const rand = lcg(99);
    for (const n of [1, 2, 3, 4]) {
      for (let trial = 0; trial < 10; trial++) {
        const blocker = new NgramBlocker(n);
        const ids: number[] = [];
        for (let i = 0; i < 60; i++) {
          expect([...blocker.bannedNext()].sort((a, b) => a - b)).toEqual(referenceBannedTokens(ids, n));
          const t = Math.floor(rand() * 4);
          ids.push(t);
          blocker.push(t);
        }
      }
    }
  });
});
