/**
 * Turns measurements into the report's rows (medians, per-step decode times,
 * Inkwell/transformers.js ratios), a Markdown table and the JSON result file.
 */
import type { MachineInfo } from './machine';
import type { CaseKey, ImplementationMeasurement, ModelMeasurement, Phase } from './measure';
import type { Implementation } from './protocol';
import type { BenchRow } from './rows';

const IMPLEMENTATION_KEYS: readonly Implementation[] = ['inkwell', 'transformers.js'];

/** One row of the table. */
export interface ReportRow {
  metric: string;
  unit: string;
  inkwell: number;
  transformersJs: number;
  /** inkwell / transformersJs. */
  ratio: number;
  /** Which direction is better for this metric. */
  better: 'lower' | 'higher';
}

/** Median of a non-empty list (mean of the middle two for even lengths). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function wall(m: ImplementationMeasurement, key: CaseKey): number {
  return median(m.runs[key].map((r) => r.wallMs));
}

/**
 * Decode time per step: median over runs of (time from the first new token to the last) / S,
 * from each implementation's own split (Inkwell's Engine timings, transformers.js's streamer
 * calls), so the prefill's run-to-run variation does not leak into it.
 */
function msPerStep(m: ImplementationMeasurement, decode: CaseKey, steps: number): number {
  return median(m.runs[decode].map((r) => r.split.decodeMs / steps));
}

/**
 * The same from wall times alone, as a cross-check that needs no hook inside either
 * implementation: (median wall time for 1 + S new tokens − median for 1 new token) / S.
 */
function msPerStepFromWall(m: ImplementationMeasurement, first: CaseKey, decode: CaseKey, steps: number): number {
  return (wall(m, decode) - wall(m, first)) / steps;
}

/** The table rows of one model. */
export function rowsFor(result: ModelMeasurement): ReportRow[] {
  const ink = result.results.inkwell;
  const tjs = result.results['transformers.js'];
  const steps = result.decodeSteps;
  const rows: ReportRow[] = [];
  const add = (metric: string, unit: string, better: ReportRow['better'], f: (m: ImplementationMeasurement) => number): void => {
    const a = f(ink);
    const b = f(tjs);
    rows.push({ metric, unit, inkwell: a, transformersJs: b, ratio: a / b, better });
  };
  add('load (model + tokenizer)', 'ms', 'lower', (m) => median(m.loadMs));
  add('time to first token, 128-token prompt', 'ms', 'lower', (m) => wall(m, 'first128'));
  add('time to first token, 512-token prompt', 'ms', 'lower', (m) => wall(m, 'first512'));
  add('decode K=1 greedy', 'ms/step', 'lower', (m) => msPerStep(m, 'decodeK1', steps));
  add('decode K=1 greedy', 'tokens/s', 'higher', (m) => 1000 / msPerStep(m, 'decodeK1', steps));
  add('time to first token K=3 greedy, 128', 'ms', 'lower', (m) => wall(m, 'firstK3greedy'));
  add('decode K=3 greedy', 'ms/step', 'lower', (m) => msPerStep(m, 'decodeK3greedy', steps));
  add('decode K=3 greedy (3 sequences)', 'tokens/s', 'higher', (m) => 3000 / msPerStep(m, 'decodeK3greedy', steps));
  add('time to first token K=3 sampled, 128', 'ms', 'lower', (m) => wall(m, 'firstK3sampled'));
  add('decode K=3 sampled top-k 50', 'ms/step', 'lower', (m) => msPerStep(m, 'decodeK3sampled', steps));
  add('decode K=3 sampled (3 sequences)', 'tokens/s', 'higher', (m) => 3000 / msPerStep(m, 'decodeK3sampled', steps));
  add('peak RSS (process high-water mark)', 'MiB', 'lower', (m) => m.maxRssMiB);
  for (const phase of ['load', 'prefill 512', 'K=1 generation', 'K=3 generation'] as const satisfies readonly Phase[]) {
    add(`peak RSS sampled during ${phase}`, 'MiB', 'lower', (m) => m.phasePeakRssMiB[phase]);
  }
  return rows;
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function advantage(row: ReportRow): string {
  if (!Number.isFinite(row.ratio) || row.ratio <= 0) return 'n/a';
  const inkwellBetter = row.better === 'lower' ? row.ratio < 1 : row.ratio > 1;
  const factor = row.ratio >= 1 ? row.ratio : 1 / row.ratio;
  if (factor < 1.03) return 'about equal';
  return `${inkwellBetter ? 'Inkwell' : 'transformers.js'} ${factor.toFixed(2)}×`;
}

/** A Markdown table of the rows (ratio = Inkwell / transformers.js). */
export function markdownTable(rows: readonly ReportRow[]): string {
  const lines = [
    '| metric | unit | Inkwell | transformers.js | ratio Inkwell/tjs | better |',
    '|---|---|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    lines.push(`| ${r.metric} | ${r.unit} | ${formatNumber(r.inkwell)} | ${formatNumber(r.transformersJs)} | ${r.ratio.toFixed(2)} | ${advantage(r)} |`);
  }
  return lines.join('\n');
}

/** The decode rows again from wall times only (see msPerStepFromWall), one line. */
export function wallCrossCheck(result: ModelMeasurement): string {
  const steps = result.decodeSteps;
  const pair = (first: CaseKey, decode: CaseKey): string => IMPLEMENTATION_KEYS
    .map((impl) => formatNumber(msPerStepFromWall(result.results[impl], first, decode, steps)))
    .join(' / ');
  return [
    'cross-check from wall times only, ms/step Inkwell / transformers.js:',
    `K=1 greedy ${pair('first128', 'decodeK1')},`,
    `K=3 greedy ${pair('firstK3greedy', 'decodeK3greedy')},`,
    `K=3 sampled ${pair('firstK3sampled', 'decodeK3sampled')}`,
  ].join(' ');
}

/** Largest (max − min) / median over the timed cases of one model, as a noise indicator. */
export function worstSpread(result: ModelMeasurement): { spread: number; where: string } {
  let worst = { spread: 0, where: '' };
  for (const [impl, m] of Object.entries(result.results)) {
    for (const [key, runs] of Object.entries(m.runs)) {
      const times = runs.map((r) => r.wallMs);
      if (times.length < 2) continue;
      const spread = (Math.max(...times) - Math.min(...times)) / median(times);
      if (spread > worst.spread) worst = { spread, where: `${impl} ${key}` };
    }
  }
  return worst;
}

/** How much other programs disturbed the timed runs. */
export function interferenceSummary(result: ModelMeasurement, threshold: number): string {
  const runs = Object.values(result.results).flatMap((m) => Object.values(m.runs).flat());
  const known = runs.filter((r) => Number.isFinite(r.othersCpus));
  if (known.length === 0) return 'interference: not measured (no /proc, or every run was shorter than 0.1 s)';
  const repeated = runs.filter((r) => r.attempts > 1).length;
  const disturbed = known.filter((r) => r.othersCpus > threshold).length;
  const worst = Math.max(...known.map((r) => r.othersCpus));
  return `interference: ${repeated} of ${runs.length} timed runs were repeated because other programs used CPU; `
    + `${disturbed} still had others above ${threshold} CPUs; `
    + `median ${median(known.map((r) => r.othersCpus)).toFixed(2)}, worst ${worst.toFixed(2)} CPUs used by others`;
}

/** The results file's content: the --json rows, then everything each measurement recorded. */
export function resultJson(machine: MachineInfo, startedAt: string, measurements: readonly ModelMeasurement[], rows: readonly BenchRow[], readGbPerS: Readonly<Record<string, number>>): object {
  return {
    formatVersion: 2,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine,
    executionProvider: 'cpu',
    ratio: 'inkwell / transformers.js',
    readGbPerS,
    rows,
    models: measurements.map((m) => ({
      name: m.spec.name,
      precision: m.precision,
      label: m.spec.label,
      shape: m.spec.shape,
      model: m.model,
      reps: m.reps,
      warmup: m.warmup,
      decodeSteps: m.decodeSteps,
      nodeFlags: m.nodeFlags,
      loadAverage: m.loadAverage,
      rows: rowsFor(m),
      checks: m.checks,
      spread: worstSpread(m),
      results: m.results,
    })),
  };
}

/** The plain (speculative: false) row that a speculative row is compared with. */
export function plainCounterpart(rows: readonly BenchRow[], row: BenchRow): BenchRow | undefined {
  return rows.find((r) => !r.speculative && r.engine === row.engine && r.shape === row.shape && r.precision === row.precision
    && r.device === row.device && r.k === row.k && r.sampling === row.sampling);
}

/**
 * Speculative decoding beside plain decoding for one shape, from the rows: a small Markdown
 * table (no lines when the shape has no speculative rows).
 */
export function speculativeTable(rows: readonly BenchRow[], shape: string): string[] {
  const speculative = rows.filter((r) => r.speculative && r.shape === shape);
  if (speculative.length === 0) return [];
  const lines = [
    '| precision | draft | decoding | plain ms/token | speculative ms/token | speed-up | acceptance |',
    '|---|---|---|---:|---:|---:|---:|',
  ];
  for (const row of speculative) {
    const plain = plainCounterpart(rows, row);
    lines.push(`| ${row.precision} | ${row.draft_precision ?? '?'} γ=${row.draft_tokens ?? '?'} | K=${row.k} ${row.sampling} | ${formatNumber(plain?.decode_ms_per_step ?? Number.NaN)} | `
      + `${formatNumber(row.decode_ms_per_step)} | ${plain ? (plain.decode_ms_per_step / row.decode_ms_per_step).toFixed(2) : 'n/a'} | ${formatNumber(row.acceptance_rate ?? Number.NaN)} |`);
  }
  return lines;
}
