/**
 * Compare: the pure arithmetic on comparisons (perplexity, first divergence, the device lanes that
 * decide which columns may run at the same time) and their export format. The shapes themselves
 * are in the contract (src/shared/api.ts, "compare" section): they are built from its primitives,
 * and a file api.ts imported back would be an import cycle.
 *
 * Pure TypeScript: no Electron, Node or DOM imports (enforced by lint).
 */
import type { Comparison, CompareColumnResult, CompareColumnSpec, CompareLane, CompareLaneName, DeviceName, DeviceRequest, ExportFile, ExportFormat } from './api';
import { parseRemoteModelId } from './remote-engines';

// ---------------------------------------------------------------- arithmetic

/** exp(−mean log p) of the scored tokens; null when nothing was scored. */
export function perplexityOf(logprobs: readonly number[]): number | null {
  if (logprobs.length === 0) return null;
  let sum = 0;
  for (const lp of logprobs) sum += lp;
  return Math.exp(-sum / logprobs.length);
}

/**
 * The first token position where the columns' outputs are not all the same (a column that has ended
 * counts as "no token" there), or null when every column wrote the same tokens.
 */
export function firstDivergence(tokenIds: readonly (readonly number[])[]): number | null {
  if (tokenIds.length < 2) return null;
  const longest = Math.max(...tokenIds.map((ids) => ids.length));
  for (let position = 0; position < longest; position++) {
    const first = tokenIds[0]?.[position];
    if (tokenIds.some((ids) => ids[position] !== first)) return position;
  }
  return null;
}

/**
 * The device each column will run on: the requested one when the probe found it, the first
 * available of `autoOrder` for 'auto', else the cpu (where the engine falls back).
 */
export function predictDevice(request: DeviceRequest, available: ReadonlySet<DeviceName>, autoOrder: readonly DeviceName[]): DeviceName {
  if (request === 'auto') return autoOrder.find((d) => available.has(d)) ?? 'cpu';
  return available.has(request) ? request : 'cpu';
}

/** The lane a column runs in: its remote engine's (`remote:<engine>`) for a remote model, else the device predicted for it. */
export function laneOf(spec: Pick<CompareColumnSpec, 'modelId'>, predicted: () => DeviceName): CompareLaneName {
  const remote = parseRemoteModelId(spec.modelId);
  return remote ? `remote:${remote.engine}` : predicted();
}

/** Columns grouped by the lane they will run in, in column order: a lane's columns run one after another. */
export function deviceLanes(devices: readonly CompareLaneName[]): CompareLane[] {
  const lanes: CompareLane[] = [];
  devices.forEach((device, column) => {
    const lane = lanes.find((l) => l.device === device);
    if (lane) lane.columns.push(column);
    else lanes.push({ device, columns: [column] });
  });
  return lanes;
}

/** "cpu", or "remote: lab" for a column on remote engine lab (which reports no device of its own). */
export function columnDevice(column: Pick<CompareColumnResult, 'spec' | 'device'>): string {
  if (column.device !== 'remote') return column.device;
  return `remote: ${parseRemoteModelId(column.spec.modelId)?.engine ?? 'engine'}`;
}

/** "gpt2 fp32 on cpu" (or "remote:lab/gpt2-large on remote: lab"): how a column is named in exports and the CLI. */
export function columnLabel(column: Pick<CompareColumnResult, 'spec' | 'precision' | 'device'>): string {
  if (column.device === 'remote') return `${column.spec.modelId} on ${columnDevice(column)}`;
  return `${column.spec.modelId} ${column.precision ?? column.spec.precision} on ${column.device}`;
}

/** Peak memory in MB as exports print it, or the reason there is none ("remote: lab"). */
export function peakMemoryText(column: Pick<CompareColumnResult, 'spec' | 'device' | 'peakRssBytes'>): string {
  return column.peakRssBytes === null ? columnDevice(column) : (column.peakRssBytes / 1024 / 1024).toFixed(0);
}

/** Each distinct reason a probability at the first divergence is missing, with the scoring model it is about. */
export function divergenceNotes(comparison: Pick<Comparison, 'columns' | 'divergence'>): { model: string; note: string }[] {
  const out: { model: string; note: string }[] = [];
  for (const token of comparison.divergence?.tokens ?? []) {
    token.notes?.forEach((note, i) => {
      const model = comparison.columns[i]?.spec.modelId ?? '';
      if (note !== null && !out.some((n) => n.model === model && n.note === note)) out.push({ model, note });
    });
  }
  return out;
}

/** Renders saved comparisons (oldest first) as a JSON or Markdown export file named after `now`. */
export function formatComparisonExport(entries: readonly Comparison[], format: ExportFormat, now: Date): ExportFile {
  const stamp = now.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
  if (format === 'json') {
    return { filename: `inkwell-comparisons-${stamp}.json`, mimeType: 'application/json', content: `${JSON.stringify(entries, null, 2)}\n` };
  }
  const parts = [`# Inkwell comparisons\n\nExported ${now.toISOString()} · ${entries.length} ${entries.length === 1 ? 'comparison' : 'comparisons'}\n`];
  for (const entry of entries) parts.push(comparisonMarkdown(entry));
  return { filename: `inkwell-comparisons-${stamp}.md`, mimeType: 'text/markdown', content: `${parts.join('\n\n')}\n` };
}

function comparisonMarkdown(entry: Comparison): string {
  const labels = entry.columns.map((c, i) => `${i + 1}. ${columnLabel(c)}`);
  const row = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  const lines = [
    `## Comparison ${entry.id}`,
    '',
    `- Date: ${entry.createdAt}`,
    `- Seed: ${entry.seed}`,
    `- Parameters: max new tokens ${entry.params.maxNewTokens}, ${entry.params.doSample ? `temperature ${entry.params.temperature}, top-k ${entry.params.topK}, top-p ${entry.params.topP}` : 'greedy'}, repetition penalty ${entry.params.repetitionPenalty}`,
    '',
    '### Prompt',
    '',
    fenced(entry.prompt),
    '',
    '### Figures',
    '',
    row(['Column', 'Device', 'TTFT ms', 'Tokens/s', 'Total ms', 'Peak memory MB']),
    row(['---', '---', '---:', '---:', '---:', '---:']),
    ...entry.columns.map((c, i) =>
      row([
        labels[i] ?? '',
        c.deviceFallbackReason ? `${c.device} (fallback from ${c.spec.device}: ${c.deviceFallbackReason.replaceAll('|', '/')})` : columnDevice(c),
        c.ttftMs === null ? '—' : String(Math.round(c.ttftMs)),
        c.timings.tokensPerSecond.toFixed(1),
        String(Math.round(c.totalMs)),
        peakMemoryText(c),
      ]),
    ),
    '',
    '### Perplexity (row: scoring model, column: output)',
    '',
    row(['', ...entry.columns.map((_, i) => `output ${i + 1}`)]),
    row(['---', ...entry.columns.map(() => '---:')]),
    ...entry.perplexity.map((scores, i) => row([labels[i] ?? '', ...scores.map((p) => (p === null ? '—' : p.toFixed(2)))])),
    ...(entry.scoreNotes ?? []).flatMap((note, i) => (note ? [`\n- Row ${i + 1}: ${note.replaceAll('|', '/')}`] : [])),
  ];
  if (entry.divergenceNote) lines.push('', entry.divergenceNote);
  if (entry.divergence) {
    const d = entry.divergence;
    lines.push('', `### First divergence (token ${d.position + 1})`, '', 'After: ' + fenced(d.commonText), '');
    for (const token of d.tokens) {
      const probs = token.probabilities.map((p, i) => `${i + 1}: ${p === null ? `— (${token.notes?.[i] ?? 'not scored'})` : p.toPrecision(3)}`).join(', ');
      lines.push(`- Column ${token.column + 1} wrote ${token.tokenId === null ? '(ended)' : JSON.stringify(token.text)}; probability under ${probs}`);
    }
  }
  entry.columns.forEach((c, i) => {
    lines.push('', `### Output ${labels[i] ?? ''}`, '', c.error ? `Failed: ${c.error.message}` : fenced(c.text));
  });
  return lines.join('\n');
}

/** A code fence longer than any backtick run inside `text`, so generated text cannot close it early. */
function fenced(text: string): string {
  let longestRun = 0;
  for (const match of text.matchAll(/`+/g)) longestRun = Math.max(longestRun, match[0].length);
  const fence = '`'.repeat(Math.max(3, longestRun + 1));
  return `${fence}text\n${text}\n${fence}`;
}
