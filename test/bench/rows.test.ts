import { describe, expect, it } from 'vitest';
import type { CaseKey, ImplementationMeasurement, ModelMeasurement, Phase, RunRecord } from '../../bench/measure';
import { BENCH_MODELS } from '../../bench/models';
import { benchRows, rowFor, SPECULATIVE_ROW_CASES, type BenchRow } from '../../bench/rows';
import { speculativeTable } from '../../bench/report';

const CASE_KEYS: readonly CaseKey[] = [
  'first128', 'first512', 'decodeK1', 'decodeK1sampled', 'firstK3greedy', 'decodeK3greedy', 'firstK3sampled', 'decodeK3sampled',
  'firstSpeculative', 'decodeK1speculative', 'decodeK1speculativeSampled',
];
const DECODE_STEPS = 10;

function run(wallMs: number, decodeMs: number, acceptanceRate?: number): RunRecord {
  return {
    wallMs, othersCpus: 0, attempts: 1, minNewTokens: 1 + DECODE_STEPS, split: { prefillMs: 5, decodeMs },
    ...(acceptanceRate !== undefined ? { speculative: { acceptanceRate, targetPasses: 3 } } : {}),
  };
}

/** Every case timed the same (three runs, 100 ms of decode in the median) unless `runs` says otherwise. */
function implementation(runs: Partial<Record<CaseKey, RunRecord[]>>, phases: Partial<Record<Phase, number>> = {}): ImplementationMeasurement {
  const all = Object.fromEntries(CASE_KEYS.map((key) => [key, runs[key] ?? [run(30, 90), run(30, 100), run(30, 120)]])) as Record<CaseKey, RunRecord[]>;
  return {
    loadMs: [1],
    runs: all,
    phasePeakRssMiB: { load: 1, 'prefill 128': 1, 'prefill 512': 1, 'K=1 generation': 200, 'K=3 generation': 300, 'speculative K=1 generation': 0, ...phases },
    maxRssMiB: 300,
  };
}

function measurement(selfDraft: ModelMeasurement['selfDraft'], inkwell: ImplementationMeasurement): ModelMeasurement {
  return {
    spec: BENCH_MODELS.smoke, precision: 'fp32', model: { id: 'm', parameters: 1, sizeBytes: 1, decoderPath: '/m' },
    reps: 3, warmup: 1, decodeSteps: DECODE_STEPS, selfDraft, nodeFlags: [], loadAverage: { before: 0, after: 0 },
    results: { inkwell, 'transformers.js': implementation({}) }, checks: [],
  };
}

// 4e6 weight bytes at 2 GB/s: a 2 ms floor.
const WEIGHT_BYTES = 4e6;
const READ_GB_PER_S = 2;

describe('bench rows', () => {
  it('a precision without a self-draft gets the eight plain rows, each marked speculative: false and without draft fields', () => {
    const rows = benchRows(measurement(null, implementation({})), WEIGHT_BYTES, READ_GB_PER_S);
    expect(rows).toHaveLength(8);
    expect(rows.every((r) => r.speculative === false)).toBe(true);
    expect(rows.some((r) => 'acceptance_rate' in r || 'draft_precision' in r || 'draft_tokens' in r)).toBe(false);
  });

  it('the speculative rows are Inkwell-only, K = 1 greedy and sampled, timed per generated token from their own runs', () => {
    const inkwell = implementation({
      // Medians: 60 ms of decode over 10 tokens greedy (6 ms/token), 80 ms sampled; 40 ms to the first token.
      decodeK1speculative: [run(200, 70, 0.9), run(200, 50, 0.5), run(200, 60, 0.8)],
      decodeK1speculativeSampled: [run(200, 80, 0.25), run(200, 80, 0.5), run(200, 90, 0.75)],
      firstSpeculative: [run(45, 0), run(35, 0), run(40, 0)],
    }, { 'speculative K=1 generation': 250 });
    const rows = benchRows(measurement({ draftPrecision: 'int8', draftTokens: 4 }, inkwell), WEIGHT_BYTES, READ_GB_PER_S);
    expect(rows).toHaveLength(10);
    const speculative = rows.filter((r) => r.speculative);
    expect(speculative.map((r) => [r.engine, r.k, r.sampling])).toEqual([['inkwell', 1, 'greedy'], ['inkwell', 1, 'sampled']]);
    const [greedy, sampled] = speculative as [BenchRow, BenchRow];
    expect(greedy).toMatchObject({
      decode_ms_per_step: 6, decode_tokens_per_s: 1000 / 6, ttft_ms: 40, prefill_ms: 5, new_tokens: 11, peak_rss_mb: 250,
      draft_precision: 'int8', draft_tokens: 4, acceptance_rate: 0.8, weight_bytes_per_token: WEIGHT_BYTES, read_gb_per_s: READ_GB_PER_S,
    });
    expect(greedy.floor_ms).toBeCloseTo(2, 12);
    expect(sampled).toMatchObject({ decode_ms_per_step: 8, acceptance_rate: 0.5, ttft_ms: 40 });
    // The plain rows are the figures they were without speculative decoding: 100 ms over 10 steps.
    const plainGreedy = rows.find((r) => r.engine === 'inkwell' && !r.speculative && r.k === 1 && r.sampling === 'greedy');
    expect(plainGreedy).toMatchObject({ decode_ms_per_step: 10, peak_rss_mb: 200, speculative: false });
  });

  it('a speculative row without the measurement\'s self-draft is refused rather than written without its draft', () => {
    const context = { engine: 'inkwell' as const, shape: 'smoke', precision: 'int4', device: 'cpu' as const, promptTokens: 128, decodeSteps: DECODE_STEPS, weightBytesPerToken: 1, readGbPerS: 1 };
    expect(() => rowFor(context, implementation({}), SPECULATIVE_ROW_CASES[0]!)).toThrow(/self-draft/);
  });

  it('the report\'s speculative table sets each speculative row beside its plain row', () => {
    const inkwell = implementation({
      decodeK1: [run(30, 120)],
      decodeK1speculative: [run(30, 80, 0.75)],
    });
    const lines = speculativeTable(benchRows(measurement({ draftPrecision: 'int8', draftTokens: 4 }, inkwell), WEIGHT_BYTES, READ_GB_PER_S), 'smoke');
    // 12 ms/step plain against 8 ms/token speculative: 1.5× as fast.
    expect(lines[2]).toBe('| fp32 | int8 γ=4 | K=1 greedy | 12.0 | 8.00 | 1.50 | 0.75 |');
    expect(lines).toHaveLength(4);
    expect(speculativeTable(benchRows(measurement(null, inkwell), WEIGHT_BYTES, READ_GB_PER_S), 'smoke')).toEqual([]);
  });
});
