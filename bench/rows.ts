/**
 * The bench's machine-readable output (`npm run bench -- --json`): one row per engine, shape,
 * precision, device and decode setting (K, sampling, speculative on/off). A row is made from a
 * case's timed runs by rowFor(); a new kind of run adds its cases to ROW_CASES (or
 * SPECULATIVE_ROW_CASES) or calls rowFor with its own context and extra fields.
 */
import type { CaseKey, ImplementationMeasurement, ModelMeasurement, Phase } from './measure';
import type { Implementation, SelfDraft } from './protocol';
import { median } from './report';

/** One row of `--json` (issue 10 §5). */
export interface BenchRow {
  engine: Implementation;
  /** 'gpt2' | 'gpt2-large' (| 'smoke'). */
  shape: string;
  precision: string;
  device: 'cpu' | 'webgpu' | 'cuda';
  /** Sequences decoded per step. */
  k: number;
  /** 'greedy' or 'sampled' (temperature 1, top-k 50). */
  sampling: 'greedy' | 'sampled';
  /**
   * Speculative decoding with a self-draft (the same model's smaller variant, draft_precision,
   * draft_tokens per round): Inkwell only, K = 1. transformers.js has no speculative decoding, so
   * every transformers.js row is false. On speculative rows prefill_ms and ttft_ms include the
   * draft's prefill and peak_rss_mb the draft's memory.
   */
  speculative: boolean;
  prompt_tokens: number;
  /** New tokens per sequence (1 + the timed decode steps). */
  new_tokens: number;
  /** The engine's own prefill time (up to the first token's logits), median. */
  prefill_ms: number;
  /** Wall time from the prompt text to the first new token (a 1-token run of the same K and sampling where there is one), median. */
  ttft_ms: number;
  /**
   * Decode time per step: (time from the first new token to the last) ÷ (new_tokens − 1), median.
   * A speculative round yields several tokens, so on speculative rows this is ms per generated
   * token (draft steps and verification passes included), which is what compares with the
   * speculative: false row of the same shape, precision, K and sampling.
   */
  decode_ms_per_step: number;
  /** Sequence tokens per second: K / decode_ms_per_step. */
  decode_tokens_per_s: number;
  /** Peak RSS of the engine's process during this kind of generation, in MiB (2^20 bytes). */
  peak_rss_mb: number;
  /**
   * Weight bytes one decode step reads (matrices and lm_head, with scales; the same for every K).
   * Speculative rows keep the target's plain-decoding figure (and floor_ms), which they can beat:
   * a verification pass reads the weights once for several tokens.
   */
  weight_bytes_per_token: number;
  /** Read bandwidth measured in the same run (bench/bandwidth.ts), 10^9 bytes/s. */
  read_gb_per_s: number;
  /** weight_bytes_per_token ÷ read_gb_per_s: the fastest a step could be. */
  floor_ms: number;
  /** Speculative rows only: the draft's precision. */
  draft_precision?: string;
  /** Speculative rows only: tokens the draft proposes per round. */
  draft_tokens?: number | 'auto';
  /** Speculative rows only: accepted ÷ proposed draft tokens, median over the timed runs. */
  acceptance_rate?: number;
}

/** How the cases of a row are picked. */
export interface RowCase {
  decode: CaseKey;
  first: CaseKey;
  k: number;
  sampling: BenchRow['sampling'];
  phase: Phase;
  /** Present (true) on the speculative cases. */
  speculative?: true;
}

/** Which cases make a row: the decode case, the 1-token case its time to first token comes from, and the memory phase. */
export const ROW_CASES: readonly RowCase[] = [
  { decode: 'decodeK1', first: 'first128', k: 1, sampling: 'greedy', phase: 'K=1 generation' },
  // Choosing one sampled token instead of a greedy one is the only difference in the first step.
  { decode: 'decodeK1sampled', first: 'first128', k: 1, sampling: 'sampled', phase: 'K=1 generation' },
  { decode: 'decodeK3greedy', first: 'firstK3greedy', k: 3, sampling: 'greedy', phase: 'K=3 generation' },
  { decode: 'decodeK3sampled', first: 'firstK3sampled', k: 3, sampling: 'sampled', phase: 'K=3 generation' },
];

/** Inkwell's speculative cases (K = 1), measured where the precision has a self-draft. */
export const SPECULATIVE_ROW_CASES: readonly RowCase[] = [
  { decode: 'decodeK1speculative', first: 'firstSpeculative', k: 1, sampling: 'greedy', phase: 'speculative K=1 generation', speculative: true },
  { decode: 'decodeK1speculativeSampled', first: 'firstSpeculative', k: 1, sampling: 'sampled', phase: 'speculative K=1 generation', speculative: true },
];

/** What every row of one measurement shares. */
export interface RowContext {
  engine: Implementation;
  shape: string;
  precision: string;
  device: BenchRow['device'];
  promptTokens: number;
  decodeSteps: number;
  weightBytesPerToken: number;
  readGbPerS: number;
  /** The draft of the speculative rows (needed by those alone). */
  selfDraft?: SelfDraft | null;
}

/** A row from the timed runs of one decode case and its first-token case. */
export function rowFor(context: RowContext, m: ImplementationMeasurement, c: RowCase): BenchRow {
  const decode = m.runs[c.decode];
  if (c.speculative && !context.selfDraft) throw new Error(`${c.decode}: a speculative row needs the measurement's self-draft`);
  const msPerStep = median(decode.map((r) => r.split.decodeMs / context.decodeSteps));
  const floorMs = context.weightBytesPerToken / (context.readGbPerS * 1e6);
  return {
    engine: context.engine,
    shape: context.shape,
    precision: context.precision,
    device: context.device,
    k: c.k,
    sampling: c.sampling,
    speculative: c.speculative ?? false,
    prompt_tokens: context.promptTokens,
    new_tokens: 1 + context.decodeSteps,
    prefill_ms: median(decode.map((r) => r.split.prefillMs)),
    ttft_ms: median(m.runs[c.first].map((r) => r.wallMs)),
    decode_ms_per_step: msPerStep,
    decode_tokens_per_s: (1000 * c.k) / msPerStep,
    peak_rss_mb: m.phasePeakRssMiB[c.phase],
    weight_bytes_per_token: context.weightBytesPerToken,
    read_gb_per_s: context.readGbPerS,
    floor_ms: floorMs,
    ...(c.speculative && context.selfDraft ? {
      draft_precision: context.selfDraft.draftPrecision,
      draft_tokens: context.selfDraft.draftTokens,
      acceptance_rate: median(decode.flatMap((r) => (r.speculative ? [r.speculative.acceptanceRate] : []))),
    } : {}),
  };
}

/** Every row of one model measured in one precision: Inkwell's, then transformers.js's, then Inkwell's speculative ones. */
export function benchRows(m: ModelMeasurement, weightBytesPerToken: number, readGbPerS: number): BenchRow[] {
  const contextOf = (engine: Implementation): RowContext => ({
    engine, shape: m.spec.name, precision: m.precision, device: 'cpu', promptTokens: 128, decodeSteps: m.decodeSteps, weightBytesPerToken, readGbPerS, selfDraft: m.selfDraft,
  });
  const rows: BenchRow[] = [];
  for (const engine of ['inkwell', 'transformers.js'] as const) {
    for (const c of ROW_CASES) rows.push(rowFor(contextOf(engine), m.results[engine], c));
  }
  if (m.selfDraft) for (const c of SPECULATIVE_ROW_CASES) rows.push(rowFor(contextOf('inkwell'), m.results.inkwell, c));
  return rows;
}
