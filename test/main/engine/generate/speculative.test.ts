/**
 * Speculative decoding on scripted models over a tiny vocabulary: greedy output identical to plain
 * greedy whatever the draft, and sampled output distributed as the target's own sampling
 * distribution (a chi-square test against the exact distribution, with a check that the test
 * would catch the draft's distribution leaking through).
 */
import { describe, expect, it } from 'vitest';
import { GenerationParams, type GenerationParamsInput } from '../../../../src/shared/api';
import { runGeneration, type GenerationJob } from '../../../../src/main/engine/generate/generate';
import { runSpeculative } from '../../../../src/main/engine/generate/speculative';
import { EngineError } from '../../../../src/main/engine/types';
import { FAKE_EOS, FAKE_VOCAB, FakeDecoder, fakeTokenizer, hashedScript, type Script } from './fake-decoder';

/** Tokens 0..5 get these logits after a sequence (depending on its last two tokens); the rest, end of text included, none. */
function sixTokenScript(shift: number): Script {
  return (sequence) => {
    const a = sequence[sequence.length - 1] ?? 0;
    const b = sequence[sequence.length - 2] ?? 0;
    const row = new Float32Array(FAKE_VOCAB).fill(Number.NEGATIVE_INFINITY);
    for (let t = 0; t < 6; t++) row[t] = Math.sin(1.3 * t + 0.7 * a + 0.4 * b + shift) * 1.6;
    return row;
  };
}

function fake(script: Script): FakeDecoder {
  return new FakeDecoder(script, { vocabSize: FAKE_VOCAB, nPositions: 64, eosTokenId: FAKE_EOS });
}

function job(params: GenerationParamsInput, seed: number, prompt = 'ab'): GenerationJob {
  return { tokenizer: fakeTokenizer, prompt, params: GenerationParams.parse(params), seed };
}

/** softmax over tokens 0..5 of the processed logits (temperature, top-k) of `script` after `sequence`. */
function targetProbs(script: Script, sequence: number[], temperature: number, topK: number): number[] {
  const logits = Array.from(script(sequence).subarray(0, 6), (v) => v / temperature);
  const kept = topK > 0 ? [...logits].sort((x, y) => y - x)[topK - 1] as number : Number.NEGATIVE_INFINITY;
  const weights = logits.map((v) => (v >= kept ? Math.exp(v) : 0));
  const total = weights.reduce((s, w) => s + w, 0);
  return weights.map((w) => w / total);
}

/** Exact marginal distributions of the first three new tokens under the target's sampling. */
function exactMarginals(script: Script, prompt: number[], temperature: number, topK: number): number[][] {
  const marginals = [0, 1, 2].map(() => new Array<number>(6).fill(0));
  const p0 = targetProbs(script, prompt, temperature, topK);
  for (let a = 0; a < 6; a++) {
    const pa = p0[a] as number;
    marginals[0]![a]! += pa;
    const p1 = targetProbs(script, [...prompt, a], temperature, topK);
    for (let b = 0; b < 6; b++) {
      const pab = pa * (p1[b] as number);
      marginals[1]![b]! += pab;
      const p2 = targetProbs(script, [...prompt, a, b], temperature, topK);
      for (let c = 0; c < 6; c++) marginals[2]![c]! += pab * (p2[c] as number);
    }
  }
  return marginals;
}

function chiSquare(counts: number[], probs: number[], n: number): number {
  return counts.reduce((chi, c, i) => {
    const expected = n * (probs[i] as number);
    return expected > 0 ? chi + (c - expected) ** 2 / expected : chi + (c > 0 ? Number.POSITIVE_INFINITY : 0);
  }, 0);
}

/** Chi-square critical value, 5 degrees of freedom, p = 0.001. */
const CRITICAL_5_DOF = 20.52;

describe('speculative decoding', () => {
  it('gives exactly the greedy tokens of plain decoding, whatever the draft proposes', async () => {
    const target = fake(hashedScript(FAKE_VOCAB, -4));
    const params: GenerationParamsInput = { doSample: false, maxNewTokens: 30, numReturnSequences: 2, repetitionPenalty: 1.3, noRepeatNgramSize: 3, stop: ['zz'] };
    const plain = await runGeneration({ ...job(params, 1, 'once upon'), session: target });
    for (const [name, draft, expectRate] of [
      ['the target itself', target, (r: number) => expect(r).toBe(1)],
      ['an unrelated model', fake((sequence) => hashedScript()([...sequence, 7])), (r: number) => expect(r).toBeLessThan(0.5)],
    ] as const) {
      for (const draftTokens of [1, 3, 5, 'auto'] as const) {
        const outcome = await runSpeculative(target, job(params, 1, 'once upon'), { draft, draftTokens });
        expect(outcome.sequences, `${name}, γ = ${draftTokens}`).toEqual(plain.sequences);
        expectRate(outcome.speculative.acceptanceRate);
        expect(outcome.speculative.proposed).toBeGreaterThan(0);
      }
    }
    expect(target.liveBatches).toBe(0);
  });

  it('samples from the target distribution under the accept/resample rule (chi-square on a 6-token vocabulary)', async () => {
    const targetScript = sixTokenScript(0);
    // The draft favours other tokens, and gives mass where the target's top-k gives none.
    const draftScript = sixTokenScript(2.1);
    const target = fake(targetScript);
    const draft = fake(draftScript);
    const prompt = fakeTokenizer.encode('ab');
    for (const { temperature, topK } of [{ temperature: 1, topK: 0 }, { temperature: 0.7, topK: 4 }]) {
      const params: GenerationParamsInput = { doSample: true, temperature, topK, topP: 1, repetitionPenalty: 1, maxNewTokens: 3, numReturnSequences: 1 };
      const runs = 3000;
      const counts = [0, 1, 2].map(() => new Array<number>(6).fill(0));
      let proposed = 0;
      let accepted = 0;
      for (let seed = 0; seed < runs; seed++) {
        // 'auto' changes the draft length from round to round (timing-dependent); the distribution must not change.
        const outcome = await runSpeculative(target, job(params, seed), { draft, draftTokens: seed % 2 === 0 ? 2 : 'auto' });
        outcome.sequences[0]?.tokenIds.forEach((t, i) => counts[i]![t]!++);
        proposed += outcome.speculative.proposed;
        accepted += outcome.speculative.accepted;
      }
      const exact = exactMarginals(targetScript, prompt, temperature, topK);
      const draftOwn = exactMarginals(draftScript, prompt, temperature, topK);
      for (let position = 0; position < 3; position++) {
        const chi = chiSquare(counts[position] as number[], exact[position] as number[], runs);
        expect(chi, `T ${temperature}, top-k ${topK}, token ${position}: counts ${counts[position]?.join(' ')}`).toBeLessThan(CRITICAL_5_DOF);
        // The test has power: the same counts are far from the draft's own distribution.
        if (position > 0) expect(chiSquare(counts[position] as number[], draftOwn[position] as number[], runs)).toBeGreaterThan(10 * CRITICAL_5_DOF);
      }
      // Some drafts are rejected (so the resample branch ran) and some accepted.
      expect(accepted / proposed).toBeGreaterThan(0.1);
      expect(accepted / proposed).toBeLessThan(0.9);
    }
  }, 60_000);

  it("with 'auto' draft length, a draft that is never right is soon left for plain target steps (same tokens)", async () => {
    const target = fake(hashedScript(FAKE_VOCAB, -4));
    const wrong = fake((sequence) => hashedScript()([...sequence, 7]));
    const params: GenerationParamsInput = { doSample: false, maxNewTokens: 40, numReturnSequences: 1 };
    const plain = await runGeneration({ ...job(params, 1, 'once upon'), session: target });
    const fixed = await runSpeculative(target, job(params, 1, 'once upon'), { draft: wrong, draftTokens: 3 });
    const auto = await runSpeculative(target, job(params, 1, 'once upon'), { draft: wrong, draftTokens: 'auto' });
    expect(auto.sequences).toEqual(plain.sequences);
    expect(fixed.speculative.acceptanceRate).toBeLessThan(0.2);
    // A fixed γ of 3 proposes ≈ 3 drafts per token here; auto a probe now and then.
    expect(auto.speculative.proposed).toBeLessThan(fixed.speculative.proposed / 4);
    expect(auto.speculative.targetPasses).toBeGreaterThan(30);
    expect(auto.speculative.draftTokens).toBeGreaterThanOrEqual(1);
  });

  it('refuses a draft with another vocabulary or a bad number of draft tokens', async () => {
    const target = fake(hashedScript());
    const other = new FakeDecoder(hashedScript(32), { vocabSize: 32, nPositions: 64, eosTokenId: 31 });
    const params: GenerationParamsInput = { doSample: false, maxNewTokens: 4, numReturnSequences: 1 };
    await expect(runSpeculative(target, job(params, 1), { draft: other, draftTokens: 3 })).rejects.toSatisfy((e) => e instanceof EngineError && /vocabulary/.test(e.message));
    await expect(runSpeculative(target, job(params, 1), { draft: target, draftTokens: 0 })).rejects.toThrow(/draft tokens must be 'auto' or an integer from 1 to 16/);
  });
});
