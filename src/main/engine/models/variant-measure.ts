/**
 * What a precision variant costs and gains, measured when it is made: its next-token
 * distributions against fp32's on the same weights over the Brown sample (quality), and its
 * decode speed against fp32's on this machine (speed), both on the CPU.
 */
import { availableParallelism } from 'node:os';
import { argmax } from '../generate/sampling';
import { openDecoder, type DecoderPaths } from '../runtime';
import { openLogitsSession } from '../runtime/logits-session';
import type { Gpt2Config } from '../types';
import { EngineError } from '../types';

/** Quality cost against fp32 over the sample. */
export interface QualityFigures {
  /** Which text (describeQualitySample). */
  sample: string;
  /** Next-token predictions compared (tokens of every window but the first of each). */
  positions: number;
  /** Mean KL(p_fp32 ‖ p_variant) of the next-token distribution, in nats. */
  meanKl: number;
  /** The largest per-position KL, in nats. */
  maxKl: number;
  /** Share of positions where the variant's most likely next token is fp32's. */
  greedyAgreement: number;
  /** exp(mean negative log-likelihood of the sample's next tokens) under the variant. */
  perplexity: number;
  /** The same under fp32 (for the ratio). */
  fp32Perplexity: number;
}

/** Decode speed of the variant beside fp32's, measured in the same conversion. */
export interface SpeedFigures {
  device: 'cpu';
  /** intra-op threads onnxruntime used (the machine's logical CPUs). */
  threads: number;
  promptTokens: number;
  /** Timed decode steps per run; the figures are medians over the steps of all runs. */
  steps: number;
  decodeMsPerStep: number;
  fp32DecodeMsPerStep: number;
}

/** Log-softmax of one row, in float64. */
function logSoftmax(row: Float32Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of row) if (v > max) max = v;
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const logZ = max + Math.log(sum);
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = (row[i] as number) - logZ;
  return out;
}

/** KL(p ‖ q) of two log-probability rows, in nats. */
export function klDivergence(logP: Float64Array, logQ: Float64Array): number {
  let kl = 0;
  for (let i = 0; i < logP.length; i++) {
    const lp = logP[i] as number;
    kl += Math.exp(lp) * (lp - (logQ[i] as number));
  }
  return Math.max(0, kl);
}

/** Per-window log-probabilities of every position but the last (the ones with a next token in the window). */
async function logProbs(fullLogitsPath: string, config: Gpt2Config, windows: readonly number[][], signal?: AbortSignal): Promise<Float64Array[][]> {
  const session = await openLogitsSession(fullLogitsPath, config);
  try {
    const out: Float64Array[][] = [];
    for (const ids of windows) {
      if (signal?.aborted) throw new EngineError('cancelled', 'the conversion was cancelled');
      const flat = await session.logitsAll(ids);
      const V = config.vocabSize;
      out.push(ids.slice(0, -1).map((_, i) => logSoftmax(flat.subarray(i * V, (i + 1) * V))));
    }
    return out;
  } finally {
    await session.release();
  }
}

/**
 * KL, greedy agreement and perplexity of `variant` against `fp32` on `windows` (each window is
 * scored from its first token on: position i predicts token i + 1).
 */
export async function measureQuality(
  fp32FullLogitsPath: string,
  variantFullLogitsPath: string,
  config: Gpt2Config,
  windows: readonly number[][],
  sample: string,
  signal?: AbortSignal,
): Promise<QualityFigures> {
  // One graph at a time: GPT-2 Large's fp32 weights and a variant's need not be in memory together.
  const reference = await logProbs(fp32FullLogitsPath, config, windows, signal);
  const candidate = await logProbs(variantFullLogitsPath, config, windows, signal);
  let positions = 0;
  let klSum = 0;
  let maxKl = 0;
  let agree = 0;
  let nll = 0;
  let fp32Nll = 0;
  windows.forEach((ids, w) => {
    for (let i = 0; i < ids.length - 1; i++) {
      const p = reference[w]?.[i] as Float64Array;
      const q = candidate[w]?.[i] as Float64Array;
      const kl = klDivergence(p, q);
      klSum += kl;
      maxKl = Math.max(maxKl, kl);
      if (argmax(p) === argmax(q)) agree++;
      const next = ids[i + 1] as number;
      nll -= q[next] as number;
      fp32Nll -= p[next] as number;
      positions++;
    }
  });
  if (positions === 0) throw new EngineError('internal', 'the quality sample has no next-token positions');
  return {
    sample,
    positions,
    meanKl: klSum / positions,
    maxKl,
    greedyAgreement: agree / positions,
    perplexity: Math.exp(nll / positions),
    fp32Perplexity: Math.exp(fp32Nll / positions),
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Per-step decode times of greedy decoding after `prompt`, on the CPU, through the engine's decoder (worker thread) and the rows graph generation runs on. */
async function decodeStepTimes(paths: DecoderPaths, config: Gpt2Config, prompt: readonly number[], steps: number, runs: number): Promise<number[]> {
  const decoder = await openDecoder(paths, config, 'cpu');
  try {
    const times: number[] = [];
    // One untimed run first: the first steps of a fresh session allocate its buffers.
    for (let run = 0; run <= runs; run++) {
      const batch = decoder.createBatch();
      try {
        const { rows, out } = await batch.prefill(prompt, 1);
        let logits = out.logits;
        for (let s = 0; s < steps; s++) {
          const started = performance.now();
          logits = (await batch.decode(rows, [argmax(logits.subarray(0, config.vocabSize))])).logits;
          if (run > 0) times.push(performance.now() - started);
        }
      } finally {
        batch.dispose();
      }
    }
    return times;
  } finally {
    await decoder.release();
  }
}

/** Steps and runs of the speed measurement: enough for a stable median, short enough for GPT-2 Large (about 3 s each). */
const SPEED_STEPS = 16;
const SPEED_RUNS = 2;

/** Decode ms/step of the variant and of fp32, one after the other in this process (the stored figures are their ratio as much as their values). */
export async function measureSpeed(fp32: DecoderPaths, variant: DecoderPaths, config: Gpt2Config, prompt: readonly number[]): Promise<SpeedFigures> {
  const usable = prompt.slice(0, Math.max(1, Math.min(prompt.length, config.nPositions - SPEED_STEPS - 1)));
  const steps = Math.min(SPEED_STEPS, config.nPositions - usable.length - 1);
  if (steps < 1) throw new EngineError('internal', `the context window of ${config.nPositions} is too small to time decoding`);
  const variantTimes = await decodeStepTimes(variant, config, usable, steps, SPEED_RUNS);
  const fp32Times = await decodeStepTimes(fp32, config, usable, steps, SPEED_RUNS);
  return {
    device: 'cpu',
    threads: availableParallelism(),
    promptTokens: usable.length,
    steps,
    decodeMsPerStep: median(variantTimes),
    fp32DecodeMsPerStep: median(fp32Times),
  };
}
