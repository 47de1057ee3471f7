/** `inkwell models import|list|remove`. */
import { ModelStore, formatParameters, type StoredModel } from '../engine';
import { parseCommandArgs, requireString } from './args';
import { EXIT, SHOW_HELP, UsageError, type CliIo } from './io';

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
  };
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
        io.stdout(table([
          ['ID', 'NAME', 'DTYPE', 'PARAMS', 'SIZE', 'IMPORTED'],
          ...models.map((m) => [m.id, m.name, m.dtype, formatParameters(m.parameters), formatBytes(m.sizeBytes), m.importedAt]),
        ]));
      }
      return EXIT.ok;
    }
    case 'import': {
      const args = parseCommandArgs('models', rest, { id: { type: 'string' }, json: { type: 'boolean' } }, 1);
      if (args.values.help) return SHOW_HELP;
      const dir = args.positionals[0];
      if (dir === undefined) throw new UsageError('models', 'models import needs the checkpoint folder: inkwell models import <dir> --id <id>');
      const id = requireString('models', args, 'id');
      const model = await store.import(dir, id);
      if (args.values.json) io.stdout(`${JSON.stringify(modelJson(model), null, 2)}\n`);
      else io.stdout(`imported ${model.id}: ${model.name}, ${model.dtype}, ${formatBytes(model.sizeBytes)} → ${model.dir}\n`);
      return EXIT.ok;
    }
    case 'remove': {
      const args = parseCommandArgs('models', rest, {}, 1);
      if (args.values.help) return SHOW_HELP;
      const id = args.positionals[0];
      if (id === undefined) throw new UsageError('models', 'models remove needs a model id: inkwell models remove <id>');
      store.remove(id);
      io.stdout(`removed ${id}\n`);
      return EXIT.ok;
    }
    case '--help':
    case '-h':
    case 'help':
      return SHOW_HELP;
    case undefined:
      throw new UsageError('models', 'missing models command: import, list or remove');
    default:
      throw new UsageError('models', `unknown models command ${JSON.stringify(sub)} (import, list or remove)`);
  }
}
