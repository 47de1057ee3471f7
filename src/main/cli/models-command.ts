/** `inkwell models import|list|remove|convert|pull|cache|catalog`. */
import { formatBytes, formatParameters, isVariantPrecision, ModelStore, VARIANT_PRECISIONS, type StoredVariant, type VariantPrecision } from '../engine';
import { parseCommandArgs, requireString } from './args';
import { cacheCommand, catalogCommand, importFromCache, pullCommand, storeImportProgress } from './hub-commands';
import { EXIT, SHOW_HELP, UsageError, type CliIo } from './io';
import { modelJson, table, variantJson } from './model-json';
import { createTerminalProgress } from './progress';

export { modelJson } from './model-json';

const SUBCOMMANDS = 'import, list, remove, convert, pull, cache or catalog';

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
    const progress = createTerminalProgress(io);
    const started = performance.now();
    const label = { weights: 'writing weights', quality: 'measuring quality against fp32', speed: 'measuring decode speed', done: 'done' } as const;
    try {
      made.push(await store.convert(id, precision, {
        signal: io.interrupt,
        measure: options.measure,
        onProgress: (p) => progress.update({ label: `${id} → ${precision}: ${label[p.phase]}`, done: p.fraction * 1000, total: 1000, unit: 'steps' }),
      }));
    } finally {
      progress.finish();
    }
    const variant = made[made.length - 1] as StoredVariant;
    if (!options.json) io.stdout(`converted ${id} to ${precision} in ${((performance.now() - started) / 1000).toFixed(1)} s\n${variantLine(variant)}\n`);
  }
  return made;
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
        io.stderr(`no models in ${store.root} (get one with \`inkwell models pull gpt2\`, or see \`inkwell models catalog\` and \`inkwell models cache\`)\n`);
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
      const args = parseCommandArgs('models', rest, { id: { type: 'string' }, json: { type: 'boolean' }, 'from-cache': { type: 'string' }, precision: { type: 'string' } }, 1);
      if (args.values.help) return SHOW_HELP;
      const dir = args.positionals[0];
      const fromCache = args.values['from-cache'];
      if (typeof fromCache === 'string') {
        if (dir !== undefined) throw new UsageError('models', 'give either a folder or --from-cache <repo>, not both');
        return importFromCache(store, fromCache, args, io);
      }
      if (dir === undefined) throw new UsageError('models', 'models import needs the checkpoint folder: inkwell models import <dir> --id <id> (or --from-cache <repo>)');
      const id = requireString('models', args, 'id');
      const precisions = typeof args.values.precision === 'string' ? variantList('models', args.values.precision) : [];
      const json = args.values.json === true;
      const progress = createTerminalProgress(io);
      const model = await store.import(dir, id, { signal: io.interrupt, onProgress: storeImportProgress(progress) }).finally(() => progress.finish());
      if (!json) io.stdout(`imported ${model.id}: ${model.name}, ${model.dtype}, ${formatBytes(model.sizeBytes)} → ${model.dir}\n`);
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
    case 'pull':
      return pullCommand(store, rest, io);
    case 'cache':
      return cacheCommand(store, rest, io);
    case 'catalog':
      return catalogCommand(rest, io);
    case '--help':
    case '-h':
    case 'help':
      return SHOW_HELP;
    case undefined:
      throw new UsageError('models', `missing models command: ${SUBCOMMANDS}`);
    default:
      throw new UsageError('models', `unknown models command ${JSON.stringify(sub)} (${SUBCOMMANDS})`);
  }
}
