/**
 * `inkwell batch`: generates for every row of a prompts file and appends one JSON line per row to
 * the output. Up to --concurrency rows run at once on one engine, so they share decode steps
 * (continuous batching); each row's output is what `inkwell generate` gives it with the same seed.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { LIMITS } from '../../shared/api';
import { EngineError, type EngineGenerateResult } from '../engine';
import { GENERATION_OPTIONS, generationParamsFromArgs, parseCommandArgs, parseInteger, requireString } from './args';
import { parsePrompts, promptsFormat, rowParams, type BadRow, type BatchRow } from './batch-input';
import { BatchWriter, readFinishedRows } from './batch-output';
import { generateJson } from './generate-command';
import { EXIT, RefusedError, SHOW_HELP, UsageError, type CliIo } from './io';
import { createProgressReporter } from './progress';

/** Rows in flight by default: enough to fill a CPU's decode step, few enough to keep the KV cache small. */
const DEFAULT_CONCURRENCY = 8;
const MAX_CONCURRENCY = 64;

/** One output line: the input row (index, line, fields), then what `generate --json` prints, with token log-probabilities. */
export function batchLine(row: BatchRow, result: EngineGenerateResult): Record<string, unknown> {
  return { index: row.index, line: row.line, fields: row.fields, ...generateJson(result, true) };
}

function reportBad(io: CliIo, promptsPath: string, bad: BadRow): void {
  io.stderr(`inkwell: ${promptsPath}:${bad.line}: skipped: ${bad.message}\n`);
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
  const concurrencyText = args.values.concurrency;
  const concurrency = typeof concurrencyText === 'string' ? parseInteger('concurrency', concurrencyText, 'batch') : DEFAULT_CONCURRENCY;
  if (concurrency < 1 || concurrency > MAX_CONCURRENCY) throw new UsageError('batch', `--concurrency: must be from 1 to ${MAX_CONCURRENCY}`);
  const resume = args.values.resume === true;

  const format = promptsFormat(promptsPath);
  if (!existsSync(promptsPath)) throw new RefusedError(`--prompts: ${promptsPath} does not exist`);
  const { rows, bad } = parsePrompts(readFileSync(promptsPath, 'utf8'), format);
  if (existsSync(outPath) && statSync(outPath).size > 0 && !resume) {
    throw new RefusedError(`--out: ${outPath} already holds results; add --resume to continue it, or choose another file`);
  }
  const finished = resume ? readFinishedRows(outPath) : new Map<number, string>();
  for (const [index, prompt] of finished) {
    const row = rows.find((r) => r.index === index);
    if (!row || row.prompt !== prompt) {
      throw new RefusedError(`--resume: ${outPath} holds a result for row ${index} that is not row ${index} of ${promptsPath}; it was written for another prompts file`);
    }
  }
  for (const b of bad) reportBad(io, promptsPath, b);

  const { Engine } = await import('../engine');
  const engine = new Engine({ home });
  const model = engine.models.get(modelId);
  const writer = new BatchWriter(outPath);
  const todo = rows.filter((r) => !finished.has(r.index));
  const progress = createProgressReporter(io);
  const state = { done: 0, total: todo.length, tokens: 0 };
  const started = performance.now();
  const report = (): void => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? state.tokens / seconds : 0;
    progress.update({
      label: `batch → ${outPath}`,
      done: state.done,
      total: state.total,
      unit: 'steps',
      note: `${state.done}/${state.total} rows, ${rate.toFixed(1)} tokens/s`,
      ...(state.done > 0 ? { secondsLeft: ((state.total - state.done) * seconds) / state.done } : {}),
    });
  };
  let skipped = bad.length;
  let failure: unknown;
  try {
    const tokenizer = (text: string) => engine.tokenize(modelId, text);
    const runRow = async (row: BatchRow): Promise<void> => {
      const rowBad = (message: string): void => {
        reportBad(io, promptsPath, { index: row.index, line: row.line, message });
        skipped++;
        state.total--;
      };
      const rowParamsOrError = rowParams(params, row, params.seed);
      if (typeof rowParamsOrError === 'string') return rowBad(rowParamsOrError);
      if (row.prompt.length > LIMITS.maxTextChars) return rowBad(`prompt is longer than ${LIMITS.maxTextChars} characters`);
      const { ids } = await tokenizer(row.prompt);
      if (ids.length > model.config.nPositions) {
        return rowBad(`prompt is ${ids.length} tokens; the model's context window is ${model.config.nPositions}`);
      }
      try {
        const result = await engine.generate({ modelId, prompt: row.prompt, params: rowParamsOrError, signal: io.interrupt });
        // A row cut short by Ctrl-C is not written: --resume runs it again whole.
        if (result.sequences.some((s) => s.finishReason === 'cancelled')) return;
        writer.append(batchLine(row, result));
        state.done++;
        state.tokens += result.sequences.reduce((n, s) => n + s.tokenIds.length, 0);
        report();
      } catch (error) {
        if (error instanceof EngineError && error.kind === 'bad_input') return rowBad(error.message);
        throw error;
      }
    };
    report();
    let next = 0;
    const workers = Array.from({ length: Math.min(concurrency, todo.length) }, async () => {
      while (next < todo.length && failure === undefined && !io.interrupt.aborted) {
        const row = todo[next++] as BatchRow;
        try {
          await runRow(row);
        } catch (error) {
          failure ??= error;
        }
      }
    });
    await Promise.all(workers);
    progress.finish();
  } finally {
    writer.close();
    await engine.dispose();
  }
  if (failure !== undefined) throw failure;
  const already = finished.size > 0 ? `, ${finished.size} already there` : '';
  io.stderr(`inkwell: batch: ${state.done} rows written to ${outPath}${already}${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
  return io.interrupt.aborted ? EXIT.interrupted : EXIT.ok;
}
