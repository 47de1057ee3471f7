/**
 * Speculative decoding (Leviathan et al. 2023, "Fast Inference from Transformers via Speculative
 * Decoding"; Chen et al. 2023): a draft model proposes γ tokens one at a time, and the target
 * model scores all of them in one pass (runtime DecoderBatch.extend), which reads the target's
 * weights once for up to γ + 1 tokens.
 *
 * Draft token x_j ~ q_j is accepted with probability min(1, p_j(x_j) / q_j(x_j)); at the first
 * rejection a token is drawn from norm(max(0, p_j − q_j)) and the round ends; when all γ are
 * accepted, a bonus token is drawn from p_γ. p and q are the distributions the request samples
 * from (logits processors, temperature, top-k, top-p applied, each model's own logits), so the
 * output follows the target's sampling distribution exactly. Greedy decoding is the same rule on
 * one-hot distributions: a draft is kept exactly when it is the target's argmax, so the tokens are
 * those of plain greedy decoding (to float32 rounding: the target scores several positions in one
 * pass, whose logits agree with step-by-step ones to ~1e-6, so only an exact near-tie could differ).
 *
 * The rule is applied on the distributions as the token choosers give them (the argmax alone when
 * greedy, at most top-k or the nucleus when sampling), never on vocabulary-wide vectors: greedy
 * drafting and verification are one argmax per position.
 *
 * The draft length is fixed, or 'auto': chosen before every round from what the rounds so far
 * measured (draft-length.ts), down to plain target steps when the draft does not pay.
 *
 * The sequence's text, stop strings, limits and log-probabilities (from the target's raw logits)
 * are those of ordinary decoding (Lane). Each lane runs on its own rows (one target row, one draft
 * row), one lane after another: verification feeds several positions, which the attention kernel
 * takes for one row at a time.
 */
import type { SpeculativeSummary } from '../../../shared/api';
import type { DecoderBatch, DecoderSession, RowLogits } from '../runtime';
import { EngineError } from '../types';
import { planContext } from './context-window';
import { AUTO_MAX_DRAFT_TOKENS, DraftLengthPlanner, type RoundRecord } from './draft-length';
import type { GeneratedSequence, GenerationJob, DecodeOutcome } from './generate';
import { Lane } from './lane';
import { TokenChooser } from './next-token';
import { sequenceRng, type Rng } from './rng';
import type { TokenDistribution } from './sampling';

/** A draft model and how many tokens it proposes per round. */
export interface SpeculativeSettings {
  draft: DecoderSession;
  /**
   * γ: tokens proposed per round (1 to MAX_DRAFT_TOKENS), or 'auto': chosen per round from the
   * measured acceptance and step costs (draft-length.ts), 0 to AUTO_MAX_DRAFT_TOKENS, so that
   * a draft that does not pay falls back to plain steps.
   */
  draftTokens: number | 'auto';
}

/** The most tokens a draft may propose per round. */
export const MAX_DRAFT_TOKENS = 16;

/** How the draft did over the whole request: the contract's SpeculativeSummary without the draft's name (the Engine adds it). */
export type SpeculativeStats = Omit<SpeculativeSummary, 'draftModelId' | 'draftPrecision'>;

/** The outcome of a speculative request. */
export interface SpeculativeOutcome extends DecodeOutcome {
  speculative: SpeculativeStats;
}

/** Random streams of the draft's proposals, apart from the target's own streams (firstSequence + i). */
const DRAFT_STREAM_OFFSET = 0x4000_0000;

/** Draft calls feeding more tokens than this (catching up after plain steps) are left out of the draft's step time. */
const STEADY_CATCH_UP = 2;

/**
 * A distribution over a few tokens with its probabilities by id. Sampling keeps at most top-k
 * tokens (or the nucleus), greedy decoding one, so the accept/resample rule never needs the
 * vocabulary-wide vectors it is written with.
 */
interface SparseDistribution {
  /** Ascending ids with a probability above 0 (the order a dense vector is summed in). */
  readonly ids: Int32Array;
  readonly probs: Float64Array;
  probOf(id: number): number;
}

/** `dist` with ids in ascending order and zero probabilities dropped. */
function sparse(dist: TokenDistribution | null): SparseDistribution {
  const order = dist ? dist.ids.map((id, i) => i).filter((i) => (dist.probs[i] as number) > 0) : [];
  if (dist) order.sort((a, b) => (dist.ids[a] as number) - (dist.ids[b] as number));
  const ids = Int32Array.from(order, (i) => dist?.ids[i] as number);
  const probs = Float64Array.from(order, (i) => dist?.probs[i] as number);
  const byId = ids.length > 1 ? new Map(Array.from(ids, (id, i) => [id, probs[i] as number])) : null;
  return {
    ids,
    probs,
    probOf: byId ? (id) => byId.get(id) ?? 0 : (id) => (ids[0] === id ? (probs[0] as number) : 0),
  };
}

/**
 * Draws one of `ids` by (non-negative) `weights`; -1 when all are zero. Sums in ascending id
 * order, as a draw over the vocabulary-wide vector would, so the tokens drawn are the same.
 */
function draw(ids: Int32Array, weights: Float64Array, rng: Rng): number {
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i] as number;
  if (!(total > 0)) return -1;
  const target = rng.nextFloat() * total;
  let cumulative = 0;
  let last = -1;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i] as number;
    if (w <= 0) continue;
    last = ids[i] as number;
    cumulative += w;
    if (target < cumulative) return last;
  }
  return last;
}

/** norm(max(0, p − q)) over p's tokens (where q alone has mass, p − q < 0): what is drawn after a rejection. */
function residualWeights(p: SparseDistribution, q: SparseDistribution): Float64Array {
  return Float64Array.from(p.ids, (id, i) => Math.max(0, (p.probs[i] as number) - q.probOf(id)));
}

function rowOf(out: RowLogits, i: number, vocab: number): { raw: Float32Array; logSumExp: number } {
  return { raw: out.logits.subarray(i * vocab, (i + 1) * vocab), logSumExp: out.logSumExp[i] as number };
}

/** The last auto-length planner per target, draft and sampling mode (acceptance differs between greedy and sampled drafts). */
const planners = new WeakMap<DecoderSession, WeakMap<DecoderSession, { greedy?: DraftLengthPlanner; sampled?: DraftLengthPlanner }>>();

/** A planner for a request on `target` with `draft`, carrying over the previous request's measurements; it is remembered for the next. */
function plannerFor(target: DecoderSession, draft: DecoderSession, sampled: boolean): DraftLengthPlanner {
  let byDraft = planners.get(target);
  if (!byDraft) planners.set(target, (byDraft = new WeakMap()));
  let entry = byDraft.get(draft);
  if (!entry) byDraft.set(draft, (entry = {}));
  const mode = sampled ? 'sampled' : 'greedy';
  const planner = entry[mode]?.carryOver() ?? new DraftLengthPlanner(AUTO_MAX_DRAFT_TOKENS);
  entry[mode] = planner;
  return planner;
}

/** Runs one request with speculative decoding on `target` (its sessions are owned by the caller). */
export async function runSpeculative(target: DecoderSession, job: GenerationJob, settings: SpeculativeSettings): Promise<SpeculativeOutcome> {
  const { draft, draftTokens } = settings;
  if (draftTokens !== 'auto' && (!Number.isInteger(draftTokens) || draftTokens < 1 || draftTokens > MAX_DRAFT_TOKENS)) {
    throw new EngineError('bad_input', `draft tokens must be 'auto' or an integer from 1 to ${MAX_DRAFT_TOKENS}, got ${draftTokens}`);
  }
  if (draft.config.vocabSize !== target.config.vocabSize) {
    throw new EngineError('bad_input', `the draft model's vocabulary has ${draft.config.vocabSize} tokens, the target's ${target.config.vocabSize}: a draft must share the target's vocabulary`);
  }
  const { params, tokenizer, signal } = job;
  const config = target.config;
  const plan = planContext({
    memoryIds: job.memory ? tokenizer.encode(job.memory) : [],
    promptIds: tokenizer.encode(job.prompt),
    nPositions: Math.min(config.nPositions, draft.config.nPositions),
    maxNewTokens: params.maxNewTokens,
    maxLength: params.maxLength,
    bosTokenId: config.bosTokenId,
  });
  const nPositions = Math.min(config.nPositions, draft.config.nPositions);
  job.onStart?.({
    device: target.device.used, seed: job.seed, promptTokens: plan.inputIds.length,
    truncatedPromptTokens: plan.truncatedPromptTokens, numSequences: params.numReturnSequences,
  });
  const stats = { proposed: 0, accepted: 0, targetPasses: 0, longestDraft: 0 };
  // One planner for the request (its lanes share the decoders, so the costs it measures are
  // theirs too), starting from what the last request on the same decoders measured.
  const planner = draftTokens === 'auto' ? plannerFor(target, draft, params.doSample) : null;
  const laneCount = params.doSample ? params.numReturnSequences : 1;
  const lanes: Lane[] = [];
  const scratch = new Float32Array(config.vocabSize);
  let prefillMs = 0;
  const started = performance.now();
  for (let i = 0; i < laneCount; i++) {
    const stream = (job.firstSequence ?? 0) + i;
    const lane = new Lane({
      sequences: params.doSample ? [i] : Array.from({ length: params.numReturnSequences }, (_, s) => s),
      chooser: new TokenChooser(params, sequenceRng(job.seed, stream), plan.inputIds),
      tokenBytes: (id) => tokenizer.tokenBytes(id),
      stop: params.stop,
      eosTokenId: tokenizer.eosTokenId,
      maxNewTokens: plan.maxNewTokens,
      nPositions,
      topLogprobs: job.topLogprobs ?? 0,
      onDelta: job.onDelta,
    });
    lanes.push(lane);
    if (signal?.aborted) {
      lane.finish('cancelled');
      continue;
    }
    prefillMs += await decodeLane(lane, {
      target, draft, inputIds: plan.inputIds, nPositions, signal, stats, scratch, sampled: params.doSample,
      draftLength: planner ? (room) => planner.next(room) : (room) => Math.min(draftTokens as number, room),
      onRound: (round) => planner?.record(round),
      targetRng: sequenceRng(job.seed, stream), draftRng: sequenceRng(job.seed, DRAFT_STREAM_OFFSET + stream),
    });
  }
  const decodeMs = performance.now() - started - prefillMs;
  const sequences = new Array<GeneratedSequence>(params.numReturnSequences);
  let newTokens = 0;
  for (const lane of lanes) {
    newTokens += lane.tokenIds.length;
    for (const s of lane.sequences) sequences[s] = lane.result();
  }
  const { longestDraft, ...counts } = stats;
  return {
    promptTokens: plan.inputIds.length,
    truncatedPromptTokens: plan.truncatedPromptTokens,
    sequences,
    prefillMs,
    decodeMs,
    tokensPerSecond: decodeMs > 0 ? (newTokens * 1000) / decodeMs : 0,
    speculative: {
      // With 'auto', the longest draft any round proposed (at least 1, as the contract has it).
      draftTokens: draftTokens === 'auto' ? Math.max(1, longestDraft) : draftTokens,
      ...counts,
      acceptanceRate: stats.proposed > 0 ? stats.accepted / stats.proposed : 0,
    },
  };
}

interface LaneRun {
  target: DecoderSession;
  draft: DecoderSession;
  inputIds: readonly number[];
  nPositions: number;
  signal: AbortSignal | undefined;
  stats: { proposed: number; accepted: number; targetPasses: number; longestDraft: number };
  /** A vocabulary-sized row the token choosers process logits in (choices are synchronous). */
  scratch: Float32Array;
  sampled: boolean;
  /** Draft tokens for the next round, given that at most `room` fit (0: a plain target step). */
  draftLength: (room: number) => number;
  onRound: (round: RoundRecord) => void;
  /** The lane's own draws (its TokenChooser has another copy of the same stream, unused here). */
  targetRng: Rng;
  draftRng: Rng;
}

/** Decodes one lane to its end; returns the time its prefills took. */
async function decodeLane(lane: Lane, run: LaneRun): Promise<number> {
  const { target, draft, inputIds, nPositions, stats } = run;
  const vocab = target.config.vocabSize;
  const targetBatch = target.createBatch();
  const draftBatch = draft.createBatch();
  /** The distribution `chooser` draws from after `raw` (left unchanged; processed in the scratch row). */
  const distributionOf = (chooser: TokenChooser, raw: Float32Array): SparseDistribution => {
    run.scratch.set(raw);
    return sparse(chooser.distribution(run.scratch));
  };
  try {
    const prefillStart = performance.now();
    const [targetPrefill, draftPrefill] = [await targetBatch.prefill(inputIds, 1), await draftBatch.prefill(inputIds, 1)];
    const prefillMs = performance.now() - prefillStart;
    const targetRow = targetPrefill.rows[0] as number;
    const draftRow = draftPrefill.rows[0] as number;
    /** Prompt plus every token the lane has taken. */
    const committed = [...inputIds];
    // The first token comes from the target's prefill, as in ordinary decoding.
    const first = rowOf(targetPrefill.out, 0, vocab);
    const firstDist = distributionOf(lane.chooser.fork(run.targetRng), first.raw);
    let pending = draw(firstDist.ids, firstDist.probs, run.targetRng);
    lane.chooser.record(pending);
    if (!lane.take(pending, first.raw, first.logSumExp, committed.length)) return prefillMs;
    committed.push(pending);
    const state: DraftState = { batch: draftBatch, row: draftRow, logits: draftPrefill.out, fed: inputIds.length };

    while (lane.finishReason === null) {
      if (run.signal?.aborted) {
        lane.finish('cancelled');
        break;
      }
      // Tokens the lane may still take this round: drafts + the correction or bonus token.
      const room = Math.min(lane.remaining(), nPositions - committed.length);
      const gamma = Math.max(0, Math.min(run.draftLength(room - 1), room - 1));
      const proposal = gamma > 0 ? await propose(lane, run, state, committed, gamma) : { drafts: [], q: [], calls: 0, ms: 0 };
      // One target pass over the pending token and the drafts: logits after each of them.
      const passStart = performance.now();
      const verified = await targetBatch.extend(targetRow, [pending, ...proposal.drafts]);
      stats.targetPasses++;
      stats.proposed += proposal.drafts.length;
      stats.longestDraft = Math.max(stats.longestDraft, proposal.drafts.length);
      const { taken, next } = run.sampled
        ? verifySampled(lane, run, verified, proposal.drafts, proposal.q, distributionOf)
        : verifyGreedy(lane, run, verified, proposal.drafts);
      run.onRound({ proposed: proposal.drafts.length, accepted: taken, draftCalls: proposal.calls, draftMs: proposal.ms, passMs: performance.now() - passStart });
      stats.accepted += taken;
      // The target's cache holds the pending token and every draft; keep those taken.
      targetBatch.truncate(targetRow, committed.length + taken);
      if (state.fed > committed.length + taken) {
        draftBatch.truncate(draftRow, committed.length + taken);
        state.fed = committed.length + taken;
      }
      const tokens = [...proposal.drafts.slice(0, taken), next];
      for (let j = 0; j < tokens.length; j++) {
        const token = tokens[j] as number;
        const row = rowOf(verified, j, vocab);
        lane.chooser.record(token);
        if (!lane.take(token, row.raw, row.logSumExp, committed.length)) break;
        committed.push(token);
        pending = token;
      }
    }
    return prefillMs;
  } finally {
    targetBatch.dispose();
    draftBatch.dispose();
  }
}

/** The draft's row: its batch, the logits after the last token it was fed, and how many positions it holds. */
interface DraftState {
  readonly batch: DecoderBatch;
  readonly row: number;
  logits: RowLogits;
  fed: number;
}

/**
 * The draft catches up with the committed tokens it has not seen (the last one; after a fully
 * accepted round the last draft too; after plain steps all of them), then proposes `gamma`
 * tokens, each from the logits after the one before. Greedy drafts are the argmax alone: no
 * distribution over the vocabulary is built.
 */
async function propose(lane: Lane, run: LaneRun, state: DraftState, committed: readonly number[], gamma: number): Promise<Proposal> {
  const vocab = run.draft.config.vocabSize;
  const started = performance.now();
  const proposal: Proposal = { drafts: [], q: [], calls: 0, ms: 0 };
  let catchUpMs = 0;
  if (state.fed < committed.length) {
    const tokens = committed.slice(state.fed);
    const feeding = performance.now();
    state.logits = await state.batch.extend(state.row, tokens);
    state.fed += tokens.length;
    // A long catch-up (after plain steps) is not what a steady round's draft call costs.
    if (tokens.length <= STEADY_CATCH_UP) proposal.calls++;
    else catchUpMs = performance.now() - feeding;
  }
  const proposer = lane.chooser.fork(run.draftRng);
  for (let j = 0; j < gamma; j++) {
    run.scratch.set(rowOf(state.logits, state.logits.logSumExp.length - 1, vocab).raw);
    let x: number;
    if (run.sampled) {
      const qj = sparse(proposer.distribution(run.scratch));
      x = draw(qj.ids, qj.probs, run.draftRng);
      if (x < 0) break;
      proposer.record(x);
      proposal.q.push(qj);
    } else {
      x = proposer.choose(run.scratch);
      if (x < 0) break;
    }
    proposal.drafts.push(x);
    if (j < gamma - 1) {
      state.logits = await state.batch.extend(state.row, [x]);
      state.fed++;
      proposal.calls++;
    }
  }
  proposal.ms = performance.now() - started - catchUpMs;
  return proposal;
}

/** A round's drafts, the distributions they were drawn from (sampling only), and the draft calls' count and time. */
interface Proposal {
  drafts: number[];
  q: SparseDistribution[];
  /** Draft calls of at most STEADY_CATCH_UP tokens, and the milliseconds of the round's drafting without the longer ones. */
  calls: number;
  ms: number;
}

/**
 * Greedy verification: a draft is kept exactly when it is the target's own choice after the
 * tokens before it (argmax after the processors); the first one that is not is replaced by the
 * target's choice, and when all are kept the target's choice after the last is the bonus token.
 */
function verifyGreedy(lane: Lane, run: LaneRun, verified: RowLogits, drafts: readonly number[]): { taken: number; next: number } {
  const vocab = run.target.config.vocabSize;
  const checker = lane.chooser.fork(run.targetRng);
  for (let j = 0; j <= drafts.length; j++) {
    run.scratch.set(rowOf(verified, j, vocab).raw);
    const choice = checker.choose(run.scratch);
    if (j === drafts.length || choice !== drafts[j]) return { taken: j, next: choice };
  }
  return { taken: drafts.length, next: -1 };
}

/** The accept/resample rule (see the file comment) on the target's distributions after each draft. */
function verifySampled(
  lane: Lane, run: LaneRun, verified: RowLogits, drafts: readonly number[], q: readonly SparseDistribution[],
  distributionOf: (chooser: TokenChooser, raw: Float32Array) => SparseDistribution,
): { taken: number; next: number } {
  const vocab = run.target.config.vocabSize;
  const checker = lane.chooser.fork(run.targetRng);
  for (let j = 0; j <= drafts.length; j++) {
    const p = distributionOf(checker, rowOf(verified, j, vocab).raw);
    if (j === drafts.length) return { taken: j, next: draw(p.ids, p.probs, run.targetRng) };
    const x = drafts[j] as number;
    const qj = q[j] as SparseDistribution;
    if (run.targetRng.nextFloat() < Math.min(1, p.probOf(x) / qj.probOf(x))) {
      checker.record(x);
      continue;
    }
    let next = draw(p.ids, residualWeights(p, qj), run.targetRng);
    // p ≤ q everywhere only when p = q (then x is always accepted); rounding can leave nothing: draw from p.
    if (next < 0) next = draw(p.ids, p.probs, run.targetRng);
    return { taken: j, next };
  }
  return { taken: drafts.length, next: -1 };
}
