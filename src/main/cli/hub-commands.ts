/**
 * `inkwell models pull | cache | catalog` and `models import --from-cache`:
 * getting models from the Hugging Face Hub and the local Hugging Face cache.
 */
import { catalog, formatBytes, formatParameters, hfHubCacheDir, hubConnectionFromEnv, type CatalogModel, type ImportProgress, type ModelStore, type PullProgress } from '../engine';
import { parseCommandArgs, type ParsedArgs } from './args';
import { EXIT, SHOW_HELP, UsageError, type CliIo } from './io';
import { modelJson, snakeCaseKeys, table } from './model-json';
import { createProgressReporter, createTerminalProgress, type ProgressReporter } from './progress';

const IMPORT_STEPS: Readonly<Record<ImportProgress['phase'], string>> = {
  copying: 'bringing the files into the store',
  scanning: 'checking the weights for NaN/Inf',
  building: 'building the ONNX graphs',
};

/** An import's progress callback drawing on `progress`. */
export function storeImportProgress(progress: ProgressReporter): (p: ImportProgress) => void {
  return (p) => progress.update({ label: IMPORT_STEPS[p.phase], done: p.bytesDone, total: p.bytesTotal, unit: p.phase === 'building' ? 'steps' : 'bytes' });
}

function pullProgress(progress: ProgressReporter): (p: PullProgress) => void {
  return (p) => {
    if (p.phase === 'listing') return;
    if (p.phase === 'importing') {
      progress.update({ label: IMPORT_STEPS[p.importPhase ?? 'building'], done: p.bytesDone, total: p.bytesTotal, unit: p.importPhase === 'building' ? 'steps' : 'bytes' });
      return;
    }
    progress.update({
      label: `downloading ${p.file ?? ''}`.trim(),
      done: p.bytesDone,
      total: p.bytesTotal,
      unit: 'bytes',
      bytesPerSecond: p.bytesPerSecond,
      ...(p.secondsLeft !== undefined ? { secondsLeft: p.secondsLeft } : {}),
    });
  };
}

/** `inkwell models pull <alias|owner/name> [--id id] [--json]`. */
export async function pullCommand(store: ModelStore, argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs('models', argv, { id: { type: 'string' }, json: { type: 'boolean' } }, 1);
  if (args.values.help) return SHOW_HELP;
  const name = args.positionals[0];
  if (name === undefined) throw new UsageError('models', 'models pull needs a model: an alias (gpt2, gpt2-large, …) or a Hub repository owner/name');
  const connection = hubConnectionFromEnv(io.env);
  const progress = createProgressReporter(io);
  io.stderr(`pulling ${name} from ${connection.endpoint}\n`);
  const result = await store.pull(name, {
    ...(typeof args.values.id === 'string' ? { id: args.values.id } : {}),
    connection,
    signal: io.interrupt,
    onProgress: pullProgress(progress),
  }).finally(() => progress.finish());
  if (result.kind === 'tokenizer') {
    if (args.values.json) io.stdout(`${JSON.stringify({ kind: 'tokenizer', alias: result.alias, repo: result.repo, dir: result.dir, files: result.files }, null, 2)}\n`);
    else io.stdout(`pulled the ${result.alias} tokenizer (${result.files.join(', ')}) → ${result.dir}\n`);
    return EXIT.ok;
  }
  const { model } = result;
  if (args.values.json) {
    io.stdout(`${JSON.stringify({ ...modelJson(model), repo: result.repo, downloaded_bytes: result.downloadedBytes, resumed_bytes: result.resumedBytes }, null, 2)}\n`);
  } else {
    const resumed = result.resumedBytes > 0 ? `, resumed after ${formatBytes(result.resumedBytes)}` : '';
    io.stdout(`pulled ${result.repo} as ${model.id}: ${model.name}, ${formatBytes(result.downloadedBytes)} downloaded${resumed} → ${model.dir}\n`);
  }
  return EXIT.ok;
}

/** `inkwell models import --from-cache <repo|alias> [--id id] [--json]`. */
export async function importFromCache(store: ModelStore, repo: string, args: ParsedArgs, io: CliIo): Promise<number> {
  const progress = createTerminalProgress(io);
  const model = await store.importFromHfCache(repo, {
    cacheDir: hfHubCacheDir(io.env),
    ...(typeof args.values.id === 'string' ? { id: args.values.id } : {}),
    signal: io.interrupt,
    onProgress: storeImportProgress(progress),
  }).finally(() => progress.finish());
  if (args.values.json) {
    io.stdout(`${JSON.stringify(modelJson(model), null, 2)}\n`);
  } else {
    const how = model.weightsLinked ? 'weights hard-linked from the cache, not copied' : 'weights copied (the cache is on another disk)';
    io.stdout(`imported ${model.id} from the Hugging Face cache (${model.origin.kind === 'hf-cache' ? model.origin.repo : repo}): ${model.name}, ${how} → ${model.dir}\n`);
  }
  return EXIT.ok;
}

/** `inkwell models cache [--json]`: what the local Hugging Face cache holds. */
export async function cacheCommand(store: ModelStore, argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs('models', argv, { json: { type: 'boolean' } });
  if (args.values.help) return SHOW_HELP;
  const listing = await store.listHfCache(hfHubCacheDir(io.env));
  if (args.values.json) {
    io.stdout(`${JSON.stringify(snakeCaseKeys(listing), null, 2)}\n`);
    return EXIT.ok;
  }
  if (!listing.exists || listing.repos.length === 0) {
    io.stderr(`no models in the Hugging Face cache at ${listing.cacheDir}${listing.exists ? '' : ' (it does not exist)'}; set HF_HUB_CACHE or HF_HOME if yours is elsewhere\n`);
    return EXIT.ok;
  }
  io.stdout(`Hugging Face cache: ${listing.cacheDir}\n`);
  io.stdout(table([
    ['REPO', 'REVISION', 'PARAMS', 'SIZE', 'STATUS'],
    ...listing.repos.map((r) => [
      r.repo,
      r.revision.slice(0, 8),
      r.parameters === undefined ? '-' : formatParameters(r.parameters),
      formatBytes(r.sizeBytes),
      r.importedAs.length > 0 ? `imported as ${r.importedAs.join(', ')}` : r.importable ? 'importable' : `not importable: ${r.reason ?? ''}`,
    ]),
  ]));
  if (listing.repos.some((r) => r.importable && r.importedAs.length === 0)) {
    io.stdout('import one with: inkwell models import --from-cache <repo> [--id <id>]\n');
  }
  return EXIT.ok;
}

/** `inkwell models catalog [--json]`: the models `pull` offers, with their sizes per precision. */
export async function catalogCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs('models', argv, { json: { type: 'boolean' } });
  if (args.values.help) return SHOW_HELP;
  const entries = catalog();
  if (args.values.json) {
    io.stdout(`${JSON.stringify(snakeCaseKeys(entries), null, 2)}\n`);
    return EXIT.ok;
  }
  const models = entries.filter((e): e is CatalogModel => e.kind === 'model');
  io.stdout(table([
    ['ALIAS', 'REPO', 'PARAMS', 'DOWNLOAD', 'MEMORY fp32', 'fp16', 'int8', 'int4'],
    ...models.map((m) => [
      m.alias, m.repo, formatParameters(m.parameters), formatBytes(m.downloadBytes),
      ...(['fp32', 'fp16', 'int8', 'int4'] as const).map((p) => formatBytes(m.precisions[p].memory.totalBytes)),
    ]),
  ]));
  for (const entry of entries) if (entry.kind === 'tokenizer') io.stdout(`${entry.alias}: ${entry.description} (${formatBytes(entry.downloadBytes)})\n`);
  io.stdout('memory: estimated for one sequence over the whole 1024-token window. Get one with: inkwell models pull <alias>\n');
  return EXIT.ok;
}
