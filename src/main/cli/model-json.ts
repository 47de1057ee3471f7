/** How the CLI prints models: the JSON objects of `--json` and plain-text tables. */
import type { StoredModel, StoredVariant } from '../engine';

/** A precision variant as the CLI's JSON shows it (snake_case, figures as measured). */
export function variantJson(v: StoredVariant): Record<string, unknown> {
  return {
    precision: v.precision,
    size_bytes: v.sizeBytes,
    weight_bytes_per_token: v.matrixBytes,
    created_at: v.createdAt,
    format: {
      bits: v.format.bits,
      block_size: v.format.blockSize,
      symmetric: v.format.symmetric,
      accuracy_level: v.format.accuracyLevel,
      embedding: v.format.embedding,
      matmul: v.format.matmul,
    },
    quality: v.quality && {
      sample: v.quality.sample,
      positions: v.quality.positions,
      mean_kl: v.quality.meanKl,
      max_kl: v.quality.maxKl,
      greedy_agreement: v.quality.greedyAgreement,
      perplexity: v.quality.perplexity,
      fp32_perplexity: v.quality.fp32Perplexity,
    },
    speed: v.speed && {
      device: v.speed.device,
      threads: v.speed.threads,
      prompt_tokens: v.speed.promptTokens,
      steps: v.speed.steps,
      decode_ms_per_step: v.speed.decodeMsPerStep,
      fp32_decode_ms_per_step: v.speed.fp32DecodeMsPerStep,
      decode_tokens_per_s: 1000 / v.speed.decodeMsPerStep,
    },
    dir: v.dir,
  };
}

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
    variants: m.variants.map(variantJson),
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
