/**
 * Turns measurements into the report's rows (medians, per-step decode times,
 * Inkwell/transformers.js ratios), a Markdown table and the JSON result file.
 */
import type { MachineInfo } from './machine';
import type { CaseKey, ImplementationMeasurement, ModelMeasurement, Phase } from './measure';

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
 * Decode time per step: (median time for 1 + S new tokens − median time for 1 new token) / S.
 * Both include tokenizing and the prefill, which cancel; what is left is S decode steps with
 * their token choice, as a user waits for them.
 */
function msPerStep(m: ImplementationMeasurement, first: CaseKey, decode: CaseKey, steps: number): number {
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
  add('load (model + tokenizer)', 'ms', 'lower', (m) => m.loadMs);
  add('time to first token, 128-token prompt', 'ms', 'lower', (m) => wall(m, 'first128'));
  add('time to first token, 512-token prompt', 'ms', 'lower', (m) => wall(m, 'first512'));
  add('decode K=1 greedy', 'ms/step', 'lower', (m) => msPerStep(m, 'first128', 'decodeK1', steps));
  add('decode K=1 greedy', 'tokens/s', 'higher', (m) => 1000 / msPerStep(m, 'first128', 'decodeK1', steps));
  add('time to first token K=3 greedy, 128', 'ms', 'lower', (m) => wall(m, 'firstK3greedy'));
  add('decode K=3 greedy', 'ms/step', 'lower', (m) => msPerStep(m, 'firstK3greedy', 'decodeK3greedy', steps));
  add('decode K=3 greedy (3 sequences)', 'tokens/s', 'higher', (m) => 3000 / msPerStep(m, 'firstK3greedy', 'decodeK3greedy', steps));
  add('time to first token K=3 sampled, 128', 'ms', 'lower', (m) => wall(m, 'firstK3sampled'));
  add('decode K=3 sampled top-k 50', 'ms/step', 'lower', (m) => msPerStep(m, 'firstK3sampled', 'decodeK3sampled', steps));
  add('decode K=3 sampled (3 sequences)', 'tokens/s', 'higher', (m) => 3000 / msPerStep(m, 'firstK3sampled', 'decodeK3sampled', steps));
  add('peak RSS (process high-water mark)', 'MiB', 'lower', (m) => m.maxRssMiB);
  for (const phase of ['load', 'prefill 512', 'decode K=1', 'decode K=3'] as const satisfies readonly Phase[]) {
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

/** Inkwell's own prefill/decode split (Engine timings) as a cross-check of the wall-clock rows. */
export function engineTimingSummary(result: ModelMeasurement): string {
  const ink = result.results.inkwell;
  const prefill = (key: CaseKey): number => median(ink.runs[key].map((r) => r.engineTimings?.prefillMs ?? Number.NaN));
  const perStep = (key: CaseKey): number => median(ink.runs[key].map((r) => (r.engineTimings?.decodeMs ?? Number.NaN) / result.decodeSteps));
  return [
    `Inkwell Engine timings (inside generate, median): prefill 128 = ${formatNumber(prefill('first128'))} ms,`,
    `prefill 512 = ${formatNumber(prefill('first512'))} ms, decode K=1 = ${formatNumber(perStep('decodeK1'))} ms/step,`,
    `K=3 greedy = ${formatNumber(perStep('decodeK3greedy'))} ms/step, K=3 sampled = ${formatNumber(perStep('decodeK3sampled'))} ms/step`,
    '(decode here includes the first token choice and is divided by the timed steps).',
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

/** The JSON result file's content. */
export function resultJson(machine: MachineInfo, startedAt: string, measurements: readonly ModelMeasurement[]): object {
  return {
    formatVersion: 1,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine,
    precision: 'fp32',
    executionProvider: 'cpu',
    ratio: 'inkwell / transformers.js',
    models: measurements.map((m) => ({
      name: m.spec.name,
      label: m.spec.label,
      shape: m.spec.shape,
      model: m.model,
      reps: m.reps,
      warmup: m.warmup,
      decodeSteps: m.decodeSteps,
      loadAverage: m.loadAverage,
      rows: rowsFor(m),
      checks: m.checks,
      spread: worstSpread(m),
      results: m.results,
    })),
  };
}
