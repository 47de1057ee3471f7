/** `inkwell models import|list|remove|convert`. */
import { ModelStore, formatParameters, type StoredModel, type StoredVariant } from '../engine/models/store';
import { isVariantPrecision, VARIANT_PRECISIONS, type VariantPrecision } from '../engine/precision';
import { parseCommandArgs, requireString } from './args';
import { EXIT, SHOW_HELP, UsageError, type CliIo } from './io';
import { ProgressBar } from './progress-bar';

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
    variants: m.variants.map(variantJson),
  };
}

/** One line per variant under its model in `models list`: size, speed and quality cost. */
function variantLine(v: StoredVariant): string {
  const parts = [`  ${v.precision.padEnd(5)} ${formatBytes(v.sizeBytes).padStart(10)}`];
  if (v.speed) parts.push(`${v.speed.decodeMsPerStep.toFixed(1)} ms/token (fp32 ${v.speed.fp32DecodeMsPerStep.toFixed(1)}, ${v.speed.device}, ${v.speed.threads} threads)`);
  if (v.quality) {
    parts.push(`KL ${v.quality.meanKl.toExponential(2)} nats, greedy agreement ${(v.quality.greedyAgreement * 100).toFixed(1)}%, `
      + `perplexity ${v.quality.perplexity.toFixed(2)} (fp32 ${v.quality.fp32Perplexity.toFixed(2)})`);
  }
  if (!v.speed && !v.quality) parts.push('not measured');
  return parts.join(' · ');
}

/** Parses a `--precision` list ("int8,int4") of variant precisions. */
function variantList(command: string, text: string): VariantPrecision[] {
  const list = text.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  for (const p of list) {
    if (!isVariantPrecision(p)) throw new UsageError(command, `--precision: ${JSON.stringify(p)} is not one of ${VARIANT_PRECISIONS.join(', ')}`);
  }
  return [...new Set(list as VariantPrecision[])];
}

/** Converts model `id` to each precision with a progress bar on a terminal and a line per variant. */
async function convertAll(store: ModelStore, id: string, precisions: readonly VariantPrecision[], io: CliIo, options: { json: boolean; measure: boolean }): Promise<StoredVariant[]> {
  const made: StoredVariant[] = [];
  for (const precision of precisions) {
    const bar = new ProgressBar(io, `${id} → ${precision}`);
    const started = performance.now();
    try {
      made.push(await store.convert(id, precision, {
        signal: io.interrupt,
        measure: options.measure,
        onProgress: (p) => bar.update(p.fraction, { weights: 'writing weights', quality: 'measuring quality against fp32', speed: 'measuring decode speed', done: 'done' }[p.phase]),
      }));
    } finally {
      bar.finish();
    }
    const variant = made[made.length - 1] as StoredVariant;
    if (!options.json) io.stdout(`converted ${id} to ${precision} in ${((performance.now() - started) / 1000).toFixed(1)} s\n${variantLine(variant)}\n`);
  }
  return made;
}

function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd()).join('\n') + '\n';
}

/** Runs `inkwell models <sub> …`. */
export async function modelsCommand(argv: readonly string[], io: CliIo, home: string): Promise<number> {
  const [sub, ...rest] = argv;
  const store = new ModelStore(home);
  switch (sub) {
    case 'list': {
      const args = parseCommandArgs('models', rest, { json: { type: 'boolean' } });
      if (args.values.help) return SHOW_HELP;
      const models = store.list();
      if (args.values.json) {
        io.stdout(`${JSON.stringify(models.map(modelJson), null, 2)}\n`);
      } else if (models.length === 0) {
        io.stderr(`no models in ${store.root} (import one with \`inkwell models import <dir> --id <id>\`)\n`);
      } else {
        const rows = table([
          ['ID', 'NAME', 'DTYPE', 'PARAMS', 'SIZE', 'IMPORTED'],
          ...models.map((m) => [m.id, m.name, m.dtype, formatParameters(m.parameters), formatBytes(m.sizeBytes), m.importedAt]),
        ]).trimEnd().split('\n');
        const [head, ...lines] = rows;
        io.stdout(`${head}\n`);
        models.forEach((m, i) => {
          io.stdout(`${lines[i] ?? ''}\n`);
          for (const v of m.variants) io.stdout(`${variantLine(v)}\n`);
        });
      }
      return EXIT.ok;
    }
    case 'import': {
      const args = parseCommandArgs('models', rest, { id: { type: 'string' }, json: { type: 'boolean' }, precision: { type: 'string' } }, 1);
      if (args.values.help) return SHOW_HELP;
      const dir = args.positionals[0];
      if (dir === undefined) throw new UsageError('models', 'models import needs the checkpoint folder: inkwell models import <dir> --id <id>');
      const id = requireString('models', args, 'id');
      const precisions = typeof args.values.precision === 'string' ? variantList('models', args.values.precision) : [];
      const json = args.values.json === true;
      const imported = await store.import(dir, id);
      if (!json) io.stdout(`imported ${imported.id}: ${imported.name}, ${imported.dtype}, ${formatBytes(imported.sizeBytes)} → ${imported.dir}\n`);
      await convertAll(store, id, precisions, io, { json, measure: true });
      if (json) io.stdout(`${JSON.stringify(modelJson(store.get(id)), null, 2)}\n`);
      return EXIT.ok;
    }
    case 'convert': {
      const args = parseCommandArgs('models', rest, { precision: { type: 'string' }, json: { type: 'boolean' }, 'no-measure': { type: 'boolean' } }, 1);
      if (args.values.help) return SHOW_HELP;
      const id = args.positionals[0];
      if (id === undefined) throw new UsageError('models', 'models convert needs a model id: inkwell models convert <id> --precision int8');
      const precisions = variantList('models', requireString('models', args, 'precision'));
      if (precisions.length === 0) throw new UsageError('models', `--precision: name at least one of ${VARIANT_PRECISIONS.join(', ')}`);
      const json = args.values.json === true;
      const made = await convertAll(store, id, precisions, io, { json, measure: args.values['no-measure'] !== true });
      if (json) io.stdout(`${JSON.stringify(made.map(variantJson), null, 2)}\n`);
      return EXIT.ok;
    }
    case 'remove': {
      const args = parseCommandArgs('models', rest, { precision: { type: 'string' } }, 1);
      if (args.values.help) return SHOW_HELP;
      const id = args.positionals[0];
      if (id === undefined) throw new UsageError('models', 'models remove needs a model id: inkwell models remove <id>');
      if (typeof args.values.precision === 'string') {
        for (const precision of variantList('models', args.values.precision)) {
          store.removeVariant(id, precision);
          io.stdout(`removed the ${precision} variant of ${id}\n`);
        }
        return EXIT.ok;
      }
      store.remove(id);
      io.stdout(`removed ${id}\n`);
      return EXIT.ok;
    }
    case '--help':
    case '-h':
    case 'help':
      return SHOW_HELP;
    case undefined:
      throw new UsageError('models', 'missing models command: import, list, convert or remove');
    default:
      throw new UsageError('models', `unknown models command ${JSON.stringify(sub)} (import, list, convert or remove)`);
  }
}
