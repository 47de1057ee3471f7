/**
 * How many tokens the draft proposes per round ("auto" draft length), chosen from what this
 * request's rounds measured: the draft's step time, the target's pass time over n tokens, and how
 * often the draft's j-th token was accepted once the ones before it were.
 *
 * A round of γ drafts costs γ draft calls plus one target pass over γ + 1 tokens and yields
 * E(γ) = 1 + a₁ (1 + a₂ + … + a₂^(γ−1)) tokens, a₁ being the rate at which a round's first draft
 * is accepted and a₂ that of a later draft once all before it were. Two rates, not one, because
 * acceptance is bursty (a draft that got one token right tends to get the next one right too), so
 * one overall rate would underestimate long rounds; two, not one per position, because the
 * positions a short round never reaches would otherwise keep the guess of a few early rounds. γ = 0 is a plain target step, one token per pass. The planner takes
 * the γ with the fewest expected milliseconds per token and speculates only where that beats a
 * plain step by a margin, so a draft that is too slow or too often wrong costs no more than the
 * few probe rounds that find it out (Leviathan et al. 2023 §3.5 choose γ the same way from α and
 * the cost ratio c, here both measured as the request runs).
 */

/** Longest draft the planner chooses. Beyond 8 a round's expected gain is small and a miss costs many draft steps. */
export const AUTO_MAX_DRAFT_TOKENS = 8;

/** The draft length of the first speculative round, before anything is measured. */
const FIRST_DRAFT_TOKENS = 3;

/** Speculate only when the expected ms per token is below this share of a plain step's. */
const SPECULATE_BELOW = 0.97;

/** Plain tokens before the draft is tried again after losing, doubled after every probe that loses. */
const FIRST_PROBE_AFTER = 8;
const MAX_PROBE_AFTER = 256;

/** Timings kept per quantity; its estimate is their median. */
const TIME_WINDOW = 7;

/**
 * The median of the last TIME_WINDOW timings. Not a running mean: on a shared machine a step that
 * another program delayed can take several times its cost, and one such step must not turn the
 * choice over.
 */
class RecentTimes {
  readonly #values: number[] = [];

  push(ms: number): void {
    this.#values.push(ms);
    if (this.#values.length > TIME_WINDOW) this.#values.shift();
  }

  get median(): number {
    const sorted = [...this.#values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  }

  copy(): RecentTimes {
    const copy = new RecentTimes();
    for (const v of this.#values) copy.push(v);
    return copy;
  }
}

/** Rounds of acceptance counts a planner passes on to the next request's (carryOver). */
const CARRIED_TRIALS = 8;

/** Relative extra cost of each further token in a target pass, until two pass lengths are measured. */
const PRIOR_PASS_SLOPE = 0.06;

/** What one round did. */
export interface RoundRecord {
  /** Draft tokens proposed (γ; 0 for a plain step). */
  proposed: number;
  /** Of them, accepted (a prefix). */
  accepted: number;
  /** Draft calls made (catch-up included) and the milliseconds they took with their token choice. */
  draftCalls: number;
  draftMs: number;
  /** Milliseconds of the target pass over proposed + 1 tokens, with the acceptance check. */
  passMs: number;
}

/** Picks the draft length of each round from the rounds before it. */
export class DraftLengthPlanner {
  readonly #max: number;
  #draftStepMs: RecentTimes | null = null;
  /** Recent pass times by tokens per pass (index n). */
  readonly #passMs: (RecentTimes | null)[];
  /** Rounds that proposed a first draft, and how many kept it. */
  #firstTrials = 0;
  #firstAccepts = 0;
  /** Later drafts proposed after all before them were kept, and how many were kept. */
  #laterTrials = 0;
  #laterAccepts = 0;
  #rounds = 0;
  /** Plain tokens to go before the next probe while speculation loses; 0 while it pays. */
  #plainLeft = 0;
  #probeAfter = FIRST_PROBE_AFTER;
  /** The next speculative round is a probe after plain steps. */
  #probeDue = false;
  /** The last speculative round was a probe. */
  #probed = false;

  constructor(max = AUTO_MAX_DRAFT_TOKENS) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`the longest draft must be a positive integer, got ${max}`);
    this.#max = max;
    this.#passMs = new Array<RecentTimes | null>(max + 2).fill(null);
  }

  /**
   * A planner for the next request on the same target and draft: it starts from this one's
   * timings, and from its acceptance counts scaled down to at most CARRIED_TRIALS rounds (the
   * next text may suit the draft better or worse), and its place in the schedule of probes.
   */
  carryOver(): DraftLengthPlanner {
    const next = new DraftLengthPlanner(this.#max);
    next.#passMs.splice(0, this.#passMs.length, ...this.#passMs.map((t) => t?.copy() ?? null));
    next.#draftStepMs = this.#draftStepMs?.copy() ?? null;
    next.#rounds = this.#rounds;
    // A draft that was losing stays on its probe schedule: each probe costs a long catch-up of the draft.
    next.#plainLeft = this.#plainLeft;
    next.#probeAfter = this.#probeAfter;
    next.#probeDue = this.#probeDue;
    next.#probed = this.#probed;
    const scale = (trials: number): number => (trials > CARRIED_TRIALS ? CARRIED_TRIALS / trials : 1);
    const first = scale(this.#firstTrials);
    next.#firstTrials = this.#firstTrials * first;
    next.#firstAccepts = this.#firstAccepts * first;
    const later = scale(this.#laterTrials);
    next.#laterTrials = this.#laterTrials * later;
    next.#laterAccepts = this.#laterAccepts * later;
    return next;
  }

  /** Draft tokens for the next round, at most `room` (0: one plain target step). */
  next(room: number): number {
    const limit = Math.max(0, Math.min(this.#max, Math.floor(room)));
    if (limit === 0) return 0;
    // First a plain step (what speculation has to beat), then one round at a moderate length.
    if (this.#rounds === 0) return 0;
    if (this.#draftStepMs === null) return Math.min(FIRST_DRAFT_TOKENS, limit);
    if (this.#plainLeft > 0) {
      this.#plainLeft--;
      return 0;
    }
    const { gamma, msPerToken } = this.#best(limit);
    if (this.#probeDue) {
      // After a stretch of plain steps: one round at the best length, to see whether the draft does better here.
      this.#probeDue = false;
      this.#probed = true;
      return Math.max(1, gamma);
    }
    if (gamma > 0 && msPerToken < this.plainMs() * SPECULATE_BELOW) {
      this.#probed = false;
      this.#probeAfter = FIRST_PROBE_AFTER;
      return gamma;
    }
    if (this.#probed) this.#probeAfter = Math.min(MAX_PROBE_AFTER, this.#probeAfter * 2);
    this.#probed = false;
    this.#plainLeft = this.#probeAfter - 1;
    this.#probeDue = true;
    return 0;
  }

  /** Estimated ms of a plain step (a target pass over one token). */
  plainMs(): number {
    return this.#pass(1);
  }

  /** Expected ms per generated token at draft length `gamma` (0: a plain step), from what was measured. */
  msPerToken(gamma: number): number {
    if (gamma === 0) return this.plainMs();
    return (gamma * (this.#draftStepMs?.median ?? 0) + this.#pass(gamma + 1)) / this.expectedTokens(gamma);
  }

  /** Records what a round measured. */
  record(round: RoundRecord): void {
    this.#rounds++;
    const n = round.proposed + 1;
    if (n < this.#passMs.length) (this.#passMs[n] ??= new RecentTimes()).push(round.passMs);
    if (round.draftCalls > 0) {
      const perCall = round.draftMs / round.draftCalls;
      (this.#draftStepMs ??= new RecentTimes()).push(perCall);
    }
    if (round.proposed === 0) return;
    this.#firstTrials++;
    if (round.accepted > 0) this.#firstAccepts++;
    // Drafts 2..proposed were judged while the ones before were kept: up to the first rejection.
    const judged = Math.min(round.proposed, round.accepted + 1) - 1;
    this.#laterTrials += Math.max(0, judged);
    this.#laterAccepts += Math.max(0, Math.min(round.accepted, round.proposed) - 1);
  }

  /** Expected tokens per round at draft length `gamma`: 1 + a₁ · Σ_{j < γ} a₂^j. */
  expectedTokens(gamma: number): number {
    // Posterior means under Jeffreys' prior: no data reads as an even chance, and a few accepted
    // drafts already as likely ones (Laplace's rule would keep a good draft on short rounds for longer).
    const first = (this.#firstAccepts + 0.5) / (this.#firstTrials + 1);
    const later = (this.#laterAccepts + 0.5) / (this.#laterTrials + 1);
    let tokens = 1;
    let chain = first;
    for (let j = 0; j < gamma; j++) {
      tokens += chain;
      chain *= later;
    }
    return tokens;
  }

  /** The draft length with the fewest expected ms per token (γ ≥ 1), and that figure. */
  #best(limit: number): { gamma: number; msPerToken: number } {
    let best = { gamma: 0, msPerToken: Number.POSITIVE_INFINITY };
    for (let gamma = 1; gamma <= limit; gamma++) {
      const msPerToken = this.msPerToken(gamma);
      if (msPerToken < best.msPerToken) best = { gamma, msPerToken };
    }
    return best;
  }

  /** Estimated ms of a target pass over `n` tokens: measured, else scaled from the nearest measured length. */
  #pass(n: number): number {
    const known = this.#knownPasses();
    if (known.length === 0) return 0;
    const exact = known.find((p) => p.k === n);
    if (exact) return exact.ms;
    const slope = this.#slope(known);
    const nearest = known.reduce((a, b) => (Math.abs(b.k - n) < Math.abs(a.k - n) ? b : a));
    return (nearest.ms * (1 + slope * (n - 1))) / (1 + slope * (nearest.k - 1));
  }

  /**
   * The measured pass times by length, each capped by those of longer passes: a pass over fewer
   * tokens never costs more, so a slow first step (a cold cache, another program) is not taken
   * for the price of plain decoding.
   */
  #knownPasses(): { k: number; ms: number }[] {
    const known: { k: number; ms: number }[] = [];
    let cap = Number.POSITIVE_INFINITY;
    for (let k = this.#passMs.length - 1; k >= 1; k--) {
      const ms = this.#passMs[k]?.median;
      if (ms === undefined) continue;
      cap = Math.min(cap, ms);
      known.unshift({ k, ms: cap });
    }
    return known;
  }

  /** Relative cost of one more token per pass, from the shortest and longest passes measured. */
  #slope(known: readonly { k: number; ms: number }[]): number {
    if (known.length < 2) return PRIOR_PASS_SLOPE;
    const short = known[0] as { k: number; ms: number };
    const long = known[known.length - 1] as { k: number; ms: number };
    // (1 + s(n1 − 1)) / (1 + s(n0 − 1)) = r, solved for s.
    const r = long.ms / short.ms;
    const denominator = long.k - 1 - r * (short.k - 1);
    const slope = denominator > 0 ? (r - 1) / denominator : PRIOR_PASS_SLOPE;
    return Math.min(1, Math.max(0, slope));
  }
}
