/** `inkwell models import|list|remove|pull|cache|catalog`. */
import { formatBytes, formatParameters, ModelStore } from '../engine';
import { parseCommandArgs, requireString } from './args';
import { cacheCommand, catalogCommand, importFromCache, pullCommand, storeImportProgress } from './hub-commands';
import { EXIT, SHOW_HELP, UsageError, type CliIo } from './io';
import { modelJson, table } from './model-json';
import { createTerminalProgress } from './progress';

export { modelJson } from './model-json';

const SUBCOMMANDS = 'import, list, remove, pull, cache or catalog';

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
        io.stdout(table([
          ['ID', 'NAME', 'DTYPE', 'PARAMS', 'SIZE', 'IMPORTED'],
          ...models.map((m) => [m.id, m.name, m.dtype, formatParameters(m.parameters), formatBytes(m.sizeBytes), m.importedAt]),
        ]));
      }
      return EXIT.ok;
    }
    case 'import': {
      const args = parseCommandArgs('models', rest, { id: { type: 'string' }, json: { type: 'boolean' }, 'from-cache': { type: 'string' } }, 1);
      if (args.values.help) return SHOW_HELP;
      const dir = args.positionals[0];
      const fromCache = args.values['from-cache'];
      if (typeof fromCache === 'string') {
        if (dir !== undefined) throw new UsageError('models', 'give either a folder or --from-cache <repo>, not both');
        return importFromCache(store, fromCache, args, io);
      }
      if (dir === undefined) throw new UsageError('models', 'models import needs the checkpoint folder: inkwell models import <dir> --id <id> (or --from-cache <repo>)');
      const id = requireString('models', args, 'id');
      const progress = createTerminalProgress(io);
      const model = await store.import(dir, id, { signal: io.interrupt, onProgress: storeImportProgress(progress) }).finally(() => progress.finish());
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
