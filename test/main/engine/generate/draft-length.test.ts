/**
 * The 'auto' draft length on simulated decoders with known costs and acceptance: what it costs per
 * token is compared with what plain decoding (one target step per token) costs in the same
 * simulation, the independent yardstick speculative decoding has to beat.
 */
import { describe, expect, it } from 'vitest';
import { DraftLengthPlanner, AUTO_MAX_DRAFT_TOKENS } from '../../../../src/main/engine/generate/draft-length';
import { mulberry32 } from '../../../helpers/random';

interface Simulated {
  /** ms of one draft call. */
  draftMs: number;
  /** ms of a target pass over n tokens. */
  passMs: (n: number) => number;
  /** Whether draft j (0-based) of a round is accepted, all before it having been. */
  accepts: (j: number, random: () => number) => boolean;
}

/** Decodes `tokens` tokens with the planner choosing each round's length; returns ms per token and the lengths chosen. */
function simulate(sim: Simulated, tokens: number, seed = 1): { msPerToken: number; lengths: number[] } {
  const planner = new DraftLengthPlanner();
  const random = mulberry32(seed);
  const lengths: number[] = [];
  let made = 0;
  let ms = 0;
  while (made < tokens) {
    const gamma = planner.next(tokens - made - 1);
    lengths.push(gamma);
    let accepted = 0;
    while (accepted < gamma && sim.accepts(accepted, random)) accepted++;
    const draftMs = gamma * sim.draftMs;
    const passMs = sim.passMs(gamma + 1);
    planner.record({ proposed: gamma, accepted, draftCalls: gamma, draftMs, passMs });
    ms += draftMs + passMs;
    made += accepted + 1;
  }
  return { msPerToken: ms / made, lengths };
}

/** ms per token of every fixed draft length 1..AUTO_MAX_DRAFT_TOKENS, simulated the same way: the best a fixed setting could do. */
function fixedLengths(sim: Simulated, tokens: number, seed = 9): number[] {
  return Array.from({ length: AUTO_MAX_DRAFT_TOKENS }, (_, i) => i + 1).map((gamma) => {
    const random = mulberry32(seed);
    let ms = 0;
    let made = 0;
    while (made < tokens) {
      let accepted = 0;
      while (accepted < gamma && sim.accepts(accepted, random)) accepted++;
      ms += gamma * sim.draftMs + sim.passMs(gamma + 1);
      made += accepted + 1;
    }
    return ms / made;
  });
}

/** A target pass over n tokens: a 140 ms step plus 4% per further token (GPT-2 Large fp32's shape of cost). */
const largePass = (n: number): number => 140 * (1 + 0.04 * (n - 1));

describe('the auto draft length', () => {
  it('speculates with long drafts when the draft is cheap and almost always right', () => {
    // The int8 self-draft of fp32 GPT-2 Large: 57 ms against a 140 ms step, 97% accepted.
    const sim: Simulated = { draftMs: 57, passMs: largePass, accepts: (_, r) => r() < 0.97 };
    const { msPerToken, lengths } = simulate(sim, 1000);
    expect(msPerToken).toBeLessThan(0.65 * largePass(1));
    expect(msPerToken).toBeLessThan(Math.min(...fixedLengths(sim, 1000)) * 1.05);
    // Away from the start (measuring) and the end (fewer tokens left than a long draft).
    const steady = lengths.slice(20, -10);
    expect(Math.min(...steady)).toBeGreaterThanOrEqual(3);
    expect(Math.max(...steady)).toBeLessThanOrEqual(AUTO_MAX_DRAFT_TOKENS);
  });

  it('never costs more than a few percent over plain decoding when the draft is too slow for what it gets right', () => {
    // An int4 draft of an int8 target: 45 ms against a 57 ms step, 44% accepted.
    const pass = (n: number): number => 57 * (1 + 0.05 * (n - 1));
    for (const seed of [1, 2, 3]) {
      const { msPerToken, lengths } = simulate({ draftMs: 45, passMs: pass, accepts: (_, r) => r() < 0.44 }, 600, seed);
      expect(msPerToken, `seed ${seed}`).toBeLessThan(pass(1) * 1.03);
      // Almost every round is a plain step once the first ones have measured the draft.
      expect(lengths.filter((g) => g > 0).length, `seed ${seed}`).toBeLessThan(0.05 * lengths.length);
    }
  });

  it('never costs more than plain decoding with a draft that is never right, and probes it less and less often', () => {
    const { msPerToken, lengths } = simulate({ draftMs: 10, passMs: largePass, accepts: () => false }, 1000);
    expect(msPerToken).toBeLessThan(largePass(1) * 1.02);
    const probes = lengths.flatMap((g, i) => (g > 0 ? [i] : []));
    const gaps = probes.slice(1).map((at, i) => at - (probes[i] as number));
    expect(gaps.length).toBeGreaterThan(2);
    expect(gaps[gaps.length - 1]).toBeGreaterThan(gaps[1] as number);
  });

  it('finds a middling length where acceptance is middling and the draft is cheap (the int4 self-draft of fp32)', () => {
    const sim: Simulated = { draftMs: 45, passMs: largePass, accepts: (_, r) => r() < 0.6 };
    const auto = simulate(sim, 2000).msPerToken;
    const fixed = fixedLengths(sim, 2000);
    expect(auto).toBeLessThan(largePass(1));
    expect(auto).toBeLessThan(Math.min(...fixed) * 1.05);
  });

  it('reads acceptance per draft position: a draft right after a right one counts for more than one overall rate says', () => {
    const planner = new DraftLengthPlanner();
    // Rounds of 4 drafts: half lose the first draft, the other half get all four right.
    for (let i = 0; i < 40; i++) planner.record({ proposed: 4, accepted: i % 2 === 0 ? 0 : 4, draftCalls: 4, draftMs: 40, passMs: 150 });
    const overall = 80 / 160;
    const iid = (1 - overall ** 5) / (1 - overall);
    // Exact for this history: 1 + 0.5 · (1 + 1 + 1 + 1) = 3.
    expect(planner.expectedTokens(4)).toBeGreaterThan(iid + 0.8);
    expect(planner.expectedTokens(4)).toBeCloseTo(3, 0);
  });

  it('does not take a slow first plain step for the price of plain decoding', () => {
    const planner = new DraftLengthPlanner();
    planner.record({ proposed: 0, accepted: 0, draftCalls: 0, draftMs: 0, passMs: 900 });
    planner.record({ proposed: 3, accepted: 0, draftCalls: 3, draftMs: 60, passMs: 150 });
    expect(planner.plainMs()).toBeLessThanOrEqual(150);
    expect(planner.msPerToken(0)).toBeLessThanOrEqual(150);
  });

  it('carries timings and (scaled-down) acceptance over to the next request, which then starts speculating at once', () => {
    const planner = new DraftLengthPlanner();
    planner.record({ proposed: 0, accepted: 0, draftCalls: 0, draftMs: 0, passMs: 140 });
    for (let i = 0; i < 200; i++) planner.record({ proposed: 6, accepted: 6, draftCalls: 6, draftMs: 6 * 57, passMs: largePass(7) });
    const next = planner.carryOver();
    expect(next.next(20)).toBeGreaterThanOrEqual(4);
    // 200 rounds of evidence weigh as 8: a dozen rounds of misses on the new text turn it back to plain steps.
    for (let i = 0; i < 12; i++) next.record({ proposed: 4, accepted: 0, draftCalls: 4, draftMs: 4 * 57, passMs: largePass(5) });
    expect(next.next(20)).toBe(0);
  });

  it('keeps speculating when another program delays a draft step and a pass several times over', () => {
    const planner = new DraftLengthPlanner();
    planner.record({ proposed: 0, accepted: 0, draftCalls: 0, draftMs: 0, passMs: 140 });
    for (let i = 0; i < 10; i++) planner.record({ proposed: 4, accepted: 4, draftCalls: 4, draftMs: 4 * 57, passMs: largePass(5) });
    planner.record({ proposed: 4, accepted: 4, draftCalls: 4, draftMs: 5 * 4 * 57, passMs: 5 * largePass(5) });
    planner.record({ proposed: 4, accepted: 4, draftCalls: 4, draftMs: 5 * 4 * 57, passMs: largePass(5) });
    expect(planner.next(20)).toBeGreaterThanOrEqual(3);
  });

  it('keeps a losing draft on its probe schedule across requests instead of probing it at the start of each', () => {
    const pass = (n: number): number => 57 * (1 + 0.05 * (n - 1));
    const planner = new DraftLengthPlanner();
    const random = mulberry32(4);
    for (let round = 0; round < 120; round++) {
      const gamma = planner.next(40);
      let accepted = 0;
      while (accepted < gamma && random() < 0.4) accepted++;
      planner.record({ proposed: gamma, accepted, draftCalls: gamma, draftMs: gamma * 45, passMs: pass(gamma + 1) });
    }
    const next = planner.carryOver();
    const firstRounds = Array.from({ length: 6 }, () => next.next(40));
    expect(firstRounds.filter((g) => g > 0).length).toBeLessThanOrEqual(1);
  });
});
