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
 * The sequence's text, stop strings, limits and log-probabilities (from the target's raw logits)
 * are those of ordinary decoding (Lane). Each lane runs on its own rows (one target row, one draft
 * row), one lane after another: verification feeds several positions, which the attention kernel
 * takes for one row at a time.
 */
import type { SpeculativeSummary } from '../../../shared/api';
import type { DecoderSession, RowLogits } from '../runtime';
import { EngineError } from '../types';
import { planContext } from './context-window';
import type { GeneratedSequence, GenerationJob, DecodeOutcome } from './generate';
import { Lane } from './lane';
import { TokenChooser } from './next-token';
import { sequenceRng, type Rng } from './rng';
import type { TokenDistribution } from './sampling';

/** A draft model and how many tokens it proposes per round. */
export interface SpeculativeSettings {
  draft: DecoderSession;
  /** γ: tokens proposed per round (1 to MAX_DRAFT_TOKENS). */
  draftTokens: number;
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

/** A dense vocabulary-sized probability vector of `dist`. */
function dense(dist: TokenDistribution | null, vocab: number): Float64Array {
  const out = new Float64Array(vocab);
  if (dist) dist.ids.forEach((id, i) => (out[id] = dist.probs[i] as number));
  return out;
}

/** Draws an index of `probs` (any non-negative weights, not all zero); -1 when all are zero. */
function draw(probs: Float64Array, rng: Rng): number {
  let total = 0;
  for (let i = 0; i < probs.length; i++) total += probs[i] as number;
  if (!(total > 0)) return -1;
  const target = rng.nextFloat() * total;
  let cumulative = 0;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] as number;
    if (p <= 0) continue;
    last = i;
    cumulative += p;
    if (target < cumulative) return i;
  }
  return last;
}

/** norm(max(0, p − q)): what is drawn after a rejection. */
function residual(p: Float64Array, q: Float64Array): Float64Array {
  const out = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) out[i] = Math.max(0, (p[i] as number) - (q[i] as number));
  return out;
}

function rowOf(out: RowLogits, i: number, vocab: number): { raw: Float32Array; logSumExp: number } {
  return { raw: out.logits.subarray(i * vocab, (i + 1) * vocab), logSumExp: out.logSumExp[i] as number };
}

/** Runs one request with speculative decoding on `target` (its sessions are owned by the caller). */
export async function runSpeculative(target: DecoderSession, job: GenerationJob, settings: SpeculativeSettings): Promise<SpeculativeOutcome> {
  const { draft, draftTokens } = settings;
  if (!Number.isInteger(draftTokens) || draftTokens < 1 || draftTokens > MAX_DRAFT_TOKENS) {
    throw new EngineError('bad_input', `draft tokens must be an integer from 1 to ${MAX_DRAFT_TOKENS}, got ${draftTokens}`);
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
  const stats = { proposed: 0, accepted: 0, targetPasses: 0 };
  const laneCount = params.doSample ? params.numReturnSequences : 1;
  const lanes: Lane[] = [];
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
    prefillMs += await decodeLane(lane, { target, draft, draftTokens, inputIds: plan.inputIds, nPositions, signal, stats, targetRng: sequenceRng(job.seed, stream), draftRng: sequenceRng(job.seed, DRAFT_STREAM_OFFSET + stream) });
  }
  const decodeMs = performance.now() - started - prefillMs;
  const sequences = new Array<GeneratedSequence>(params.numReturnSequences);
  let newTokens = 0;
  for (const lane of lanes) {
    newTokens += lane.tokenIds.length;
    for (const s of lane.sequences) sequences[s] = lane.result();
  }
  return {
    promptTokens: plan.inputIds.length,
    truncatedPromptTokens: plan.truncatedPromptTokens,
    sequences,
    prefillMs,
    decodeMs,
    tokensPerSecond: decodeMs > 0 ? (newTokens * 1000) / decodeMs : 0,
    speculative: { draftTokens, ...stats, acceptanceRate: stats.proposed > 0 ? stats.accepted / stats.proposed : 0 },
  };
}

interface LaneRun {
  target: DecoderSession;
  draft: DecoderSession;
  draftTokens: number;
  inputIds: readonly number[];
  nPositions: number;
  signal: AbortSignal | undefined;
  stats: { proposed: number; accepted: number; targetPasses: number };
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
    let pending = draw(dense(lane.chooser.fork(run.targetRng).distribution(first.raw.slice()), vocab), run.targetRng);
    lane.chooser.record(pending);
    if (!lane.take(pending, first.raw, first.logSumExp, committed.length)) return prefillMs;
    committed.push(pending);
    let draftLogits: RowLogits = draftPrefill.out;
    let draftFed = inputIds.length;

    while (lane.finishReason === null) {
      if (run.signal?.aborted) {
        lane.finish('cancelled');
        break;
      }
      // Tokens the lane may still take this round: drafts + the correction or bonus token.
      const room = Math.min(lane.remaining(), nPositions - committed.length);
      const gamma = Math.max(0, Math.min(run.draftTokens, room - 1));
      // The draft catches up with the committed tokens it has not seen (the last one, and after a
      // fully accepted round the last draft too), then proposes gamma tokens.
      const drafts: number[] = [];
      const q: Float64Array[] = [];
      if (gamma > 0) {
        if (draftFed < committed.length) draftLogits = await draftBatch.extend(draftRow, committed.slice(draftFed));
        draftFed = committed.length;
        const proposer = lane.chooser.fork(run.draftRng);
        for (let j = 0; j < gamma; j++) {
          const at = draftLogits.logSumExp.length - 1;
          const qj = dense(proposer.distribution(rowOf(draftLogits, at, vocab).raw.slice()), vocab);
          const x = draw(qj, run.draftRng);
          if (x < 0) break;
          proposer.record(x);
          drafts.push(x);
          q.push(qj);
          if (j < gamma - 1) {
            draftLogits = await draftBatch.extend(draftRow, [x]);
            draftFed++;
          }
        }
      }
      // One target pass over the pending token and the drafts: logits after each of them.
      const verified = await targetBatch.extend(targetRow, [pending, ...drafts]);
      stats.targetPasses++;
      stats.proposed += drafts.length;
      const checker = lane.chooser.fork(run.targetRng);
      let taken = 0;
      let next = -1;
      for (let j = 0; j <= drafts.length; j++) {
        const row = rowOf(verified, j, vocab);
        const p = dense(checker.distribution(row.raw.slice()), vocab);
        if (j === drafts.length) {
          next = draw(p, run.targetRng);
          break;
        }
        const x = drafts[j] as number;
        const qx = (q[j] as Float64Array)[x] as number;
        const px = p[x] as number;
        if (run.targetRng.nextFloat() < Math.min(1, px / qx)) {
          checker.record(x);
          taken++;
          continue;
        }
        next = draw(residual(p, q[j] as Float64Array), run.targetRng);
        // p ≤ q everywhere only when p = q (then x is always accepted); rounding can leave nothing: draw from p.
        if (next < 0) next = draw(p, run.targetRng);
        break;
      }
      stats.accepted += taken;
      // The target's cache holds the pending token and every draft; keep those taken.
      targetBatch.truncate(targetRow, committed.length + taken);
      if (draftFed > committed.length + taken) {
        draftBatch.truncate(draftRow, committed.length + taken);
        draftFed = committed.length + taken;
      }
      const tokens = [...drafts.slice(0, taken), next];
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
