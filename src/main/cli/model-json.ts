/** How the CLI prints models: the JSON objects of `--json` and plain-text tables. */
import type { StoredModel } from '../engine';

/** A stored model as the CLI's JSON shows it. */
export function modelJson(m: StoredModel): Record<string, unknown> {
  return {
    id: m.id,
    name: m.name,
    n_layer: m.config.nLayer,
    n_embd: m.config.nEmbd,
    n_head: m.config.nHead,
    n_positions: m.config.nPositions,
    vocab_size: m.config.vocabSize,
    parameters: m.parameters,
    dtype: m.dtype,
    size_bytes: m.sizeBytes,
    imported_at: m.importedAt,
    dir: m.dir,
    origin: m.origin,
    weights_linked: m.weightsLinked,
  };
}

/** Rows as left-aligned columns, the first row being the header. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd()).join('\n') + '\n';
}

/** `value` with every object key in snake_case, for JSON output of engine objects. */
export function snakeCaseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeCaseKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), snakeCaseKeys(v)]));
}
