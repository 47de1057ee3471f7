/**
 * Running a batch: the one implementation behind `inkwell batch` and the Batch page. A prompts
 * file's rows are checked against the results file (a resume skips the rows it holds, and refuses
 * a results file written for other prompts), then up to `concurrency` rows run at once through
 * the caller's generator, so that they share decode steps, and each finished row is appended as
 * one line. A row cut short by a cancel is not written: a resume runs it again whole.
 */
import { existsSync, statSync } from 'node:fs';
import { LIMITS, type GenerationOutcome, type GenerationParams } from '../../shared/api';
import { BadRowError, BatchFileError, OutputExistsError } from './errors';
import { assertRowLimit, parsePrompts, rowParams, type BadRow, type BatchRow, type PromptsFormat } from './input';
import { readFinishedRows, type FinishedRows } from './output';
import { batchLine } from './result-json';

/** A prompts file checked against its results file: what is there, what is done, what is left. */
export interface PreparedBatch {
  rows: BatchRow[];
  /** Rows of the file that cannot run, in file order. */
  bad: BadRow[];
  /** Rows the results file already holds (a resume). */
  finished: FinishedRows;
  /** The rows still to run, in file order. */
  todo: BatchRow[];
}

/**
 * Parses the prompts and checks them against `outPath`: a results file with rows is refused
 * unless `resume` (OutputExistsError), and on a resume every row it holds must be that row of
 * these prompts. A partial last line (a killed write) is cut off.
 */
export function prepareBatch(options: { text: string; format: PromptsFormat; promptsName: string; outPath: string; resume: boolean }): PreparedBatch {
  const { text, format, promptsName, outPath, resume } = options;
  const parsed = parsePrompts(text, format);
  assertRowLimit(parsed, promptsName);
  if (!resume && existsSync(outPath) && statSync(outPath).size > 0) throw new OutputExistsError(outPath);
  const finished: FinishedRows = resume ? readFinishedRows(outPath) : new Map();
  const byIndex = new Map(parsed.rows.map((row) => [row.index, row]));
  for (const [index, prompt] of finished) {
    if (byIndex.get(index)?.prompt !== prompt) {
      throw new BatchFileError('refused', 'resume', `${outPath} holds a result for row ${index} that is not row ${index} of ${promptsName}; it was written for another prompts file`);
    }
  }
  return { ...parsed, finished, todo: parsed.rows.filter((row) => !finished.has(row.index)) };
}

/** Where finished lines go (BatchWriter). */
export interface BatchLineSink {
  append(record: unknown): void;
}

/** What runBatch needs from its caller. */
export interface RunBatchOptions {
  todo: readonly BatchRow[];
  /** Parameters of every row before its own overrides; its seed (if any) is the base of the rows' seeds. */
  params: GenerationParams;
  concurrency: number;
  sink: BatchLineSink;
  /** Runs one row; throws BadRowError when the fault is the row's (the others go on), anything else stops the batch. */
  generate(row: BatchRow, params: GenerationParams, signal: AbortSignal): Promise<GenerationOutcome>;
  /** Tokens of a prompt, to refuse a row longer than the window before it takes a place. */
  countTokens(prompt: string): Promise<number>;
  /** The model's context window. */
  contextWindow: number;
  signal: AbortSignal;
  onBadRow(bad: BadRow): void;
  onRowDone(row: BatchRow, outcome: GenerationOutcome): void;
}

/** How a run ended: rows written and skipped at run time; `stopped` when the signal ended it early. */
export interface BatchRunSummary {
  written: number;
  skipped: number;
  stopped: boolean;
}

/** Runs the rows; rejects with the first failure that is not a row's own (after the rows in flight end). */
export async function runBatch(options: RunBatchOptions): Promise<BatchRunSummary> {
  const { todo, signal } = options;
  const summary: BatchRunSummary = { written: 0, skipped: 0, stopped: false };
  let failure: { error: unknown } | undefined;

  const skip = (row: BatchRow, message: string): void => {
    summary.skipped++;
    options.onBadRow({ index: row.index, line: row.line, message });
  };
  const runRow = async (row: BatchRow): Promise<void> => {
    const params = rowParams(options.params, row, options.params.seed);
    if (typeof params === 'string') return skip(row, params);
    if (row.prompt.length > LIMITS.maxTextChars) return skip(row, `prompt is longer than ${LIMITS.maxTextChars} characters`);
    const tokens = await options.countTokens(row.prompt);
    if (tokens > options.contextWindow) return skip(row, `prompt is ${tokens} tokens; the model's context window is ${options.contextWindow}`);
    let outcome: GenerationOutcome;
    try {
      outcome = await options.generate(row, params, signal);
    } catch (error) {
      if (error instanceof BadRowError) return skip(row, error.message);
      // A cancel may surface as an error from the generator; the row is simply not written.
      if (signal.aborted) return;
      throw error;
    }
    if (outcome.sequences.some((s) => s.finishReason === 'cancelled')) return;
    options.sink.append(batchLine(row, outcome));
    summary.written++;
    options.onRowDone(row, outcome);
  };

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < todo.length && failure === undefined && !signal.aborted) {
      const row = todo[next++] as BatchRow;
      try {
        await runRow(row);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(0, Math.min(options.concurrency, todo.length)) }, worker));
  if (failure !== undefined) throw failure.error;
  summary.stopped = signal.aborted && summary.written + summary.skipped < todo.length;
  return summary;
}

/** Rows done, tokens and time: the figures both progress displays show. */
export class BatchProgress {
  readonly #started = performance.now();
  done = 0;
  total: number;
  tokens = 0;

  /** Counts progress over `total` rows. */
  constructor(total: number) {
    this.total = total;
  }

  /** A row was written. */
  rowDone(outcome: GenerationOutcome): void {
    this.done++;
    this.tokens += outcome.sequences.reduce((n, s) => n + s.tokenIds.length, 0);
  }

  /** A row was skipped at run time: it will not be written. */
  rowSkipped(): void {
    this.total = Math.max(this.done, this.total - 1);
  }

  /** Generated tokens per second of wall time since the start. */
  get tokensPerSecond(): number {
    const seconds = (performance.now() - this.#started) / 1000;
    return seconds > 0 ? this.tokens / seconds : 0;
  }

  /** Time left at the pace so far; undefined before the first row. */
  get secondsLeft(): number | undefined {
    if (this.done === 0) return undefined;
    const seconds = (performance.now() - this.#started) / 1000;
    return ((this.total - this.done) * seconds) / this.done;
  }
}
