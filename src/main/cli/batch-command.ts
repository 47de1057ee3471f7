/**
 * `inkwell batch`: generates for every row of a prompts file and appends one JSON line per row to
 * the output. Up to --concurrency rows run at once on one engine, so they share decode steps
 * (continuous batching); each row's output is what `inkwell generate` gives it with the same seed.
 */
import { basename } from 'node:path';
import {
  BatchFileError,
  BatchProgress,
  BatchWriter,
  BadRowError,
  OutputExistsError,
  prepareBatch,
  promptsFormat,
  readPromptsFile,
  runBatch,
  type BadRow,
  type PreparedBatch,
} from '../batch';
import { EngineError } from '../engine';
import { GENERATION_OPTIONS, generationParamsFromArgs, parseCommandArgs, parseInteger, precisionFromArgs, requireString } from './args';
import { EXIT, RefusedError, SHOW_HELP, UsageError, type CliIo } from './io';
import { createProgressReporter } from './progress';

/** Rows in flight by default: enough to fill a CPU's decode step, few enough to keep the KV cache small. */
const DEFAULT_CONCURRENCY = 8;
const MAX_CONCURRENCY = 64;

function reportBad(io: CliIo, promptsPath: string, bad: BadRow): void {
  io.stderr(`inkwell: ${promptsPath}:${bad.line}: skipped: ${bad.message}\n`);
}

/** The batch core's refusals in the CLI's words: the flag they are about, exit code 2. */
function asCliError(error: unknown): unknown {
  if (error instanceof OutputExistsError) return new RefusedError(`--out: ${error.path} already holds results; add --resume to continue it, or choose another file`);
  if (error instanceof BatchFileError) {
    const message = `--${error.subject}: ${error.message}`;
    return error.kind === 'invalid' ? new UsageError('batch', message) : new RefusedError(message);
  }
  return error;
}

/** Runs `inkwell batch …`. */
export async function batchCommand(argv: readonly string[], io: CliIo, home: string): Promise<number> {
  const args = parseCommandArgs('batch', argv, {
    model: { type: 'string' },
    prompts: { type: 'string' },
    out: { type: 'string' },
    concurrency: { type: 'string' },
    resume: { type: 'boolean' },
    ...GENERATION_OPTIONS,
  });
  if (args.values.help) return SHOW_HELP;
  const modelId = requireString('batch', args, 'model');
  const promptsPath = requireString('batch', args, 'prompts');
  const outPath = requireString('batch', args, 'out');
  const params = generationParamsFromArgs('batch', args);
  const precision = precisionFromArgs('batch', args);
  const concurrencyText = args.values.concurrency;
  const concurrency = typeof concurrencyText === 'string' ? parseInteger('concurrency', concurrencyText, 'batch') : DEFAULT_CONCURRENCY;
  if (concurrency < 1 || concurrency > MAX_CONCURRENCY) throw new UsageError('batch', `--concurrency: must be from 1 to ${MAX_CONCURRENCY}`);
  const resume = args.values.resume === true;

  let prepared: PreparedBatch;
  try {
    const format = promptsFormat(promptsPath);
    prepared = prepareBatch({ text: readPromptsFile(promptsPath), format, promptsName: basename(promptsPath), outPath, resume });
  } catch (error) {
    throw asCliError(error);
  }
  const { bad, finished, todo } = prepared;
  for (const b of bad) reportBad(io, promptsPath, b);

  const { Engine } = await import('../engine');
  const engine = new Engine({ home });
  const model = engine.models.get(modelId);
  const writer = new BatchWriter(outPath);
  const progress = createProgressReporter(io);
  const counts = new BatchProgress(todo.length);
  const report = (): void => {
    const secondsLeft = counts.secondsLeft;
    progress.update({
      label: `batch → ${outPath}`,
      done: counts.done,
      total: counts.total,
      unit: 'steps',
      note: `${counts.done}/${counts.total} rows, ${counts.tokensPerSecond.toFixed(1)} tokens/s`,
      ...(secondsLeft !== undefined ? { secondsLeft } : {}),
    });
  };
  let skipped = bad.length;
  try {
    report();
    await runBatch({
      todo,
      params,
      concurrency,
      sink: writer,
      contextWindow: model.config.nPositions,
      countTokens: async (prompt) => (await engine.tokenize(modelId, prompt)).ids.length,
      generate: async (row, rowParams, signal) => {
        try {
          return await engine.generate({ modelId, prompt: row.prompt, params: rowParams, precision, signal });
        } catch (error) {
          if (error instanceof EngineError && error.kind === 'bad_input') throw new BadRowError(error.message);
          throw error;
        }
      },
      signal: io.interrupt,
      onBadRow: (b) => {
        reportBad(io, promptsPath, b);
        skipped++;
        counts.rowSkipped();
      },
      onRowDone: (_row, outcome) => {
        counts.rowDone(outcome);
        report();
      },
    });
    progress.finish();
  } finally {
    writer.close();
    await engine.dispose();
  }
  const already = finished.size > 0 ? `, ${finished.size} already there` : '';
  io.stderr(`inkwell: batch: ${counts.done} rows written to ${outPath}${already}${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
  return io.interrupt.aborted ? EXIT.interrupted : EXIT.ok;
}
