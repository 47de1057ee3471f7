/**
 * The prompts file of a batch (`inkwell batch` and the Batch page): .txt (one prompt per line), .jsonl (one JSON object per
 * line with a `prompt` field) or .csv (a header row with a `prompt` column, RFC 4180 quoting).
 * JSONL and CSV rows may override generation parameters with fields named like the flags
 * (max_new_tokens or max-new-tokens, temperature, top_k, top_p, repetition_penalty,
 * no_repeat_ngram_size, num_return_sequences, max_length, seed, stop, greedy); every other field
 * is carried through to the output untouched. A row that cannot run is reported with its line
 * number and skipped; it never stops the others.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { extname } from 'node:path';
import { GenerationParams } from '../../shared/api';
import { BATCH_LIMITS } from '../../shared/batch';
import { decimalFromText, integerFromText } from '../../shared/number-text';
import { BatchFileError } from './errors';

/** Formats by file extension. */
export type PromptsFormat = 'txt' | 'jsonl' | 'csv';

/** A row that can run. */
export interface BatchRow {
  /** 0-based position among the file's rows (bad rows included), stable across runs of the same file. */
  index: number;
  /** 1-based line of the file where the row starts. */
  line: number;
  prompt: string;
  /** The row as given (for .txt: {prompt}), written back with its result. */
  fields: Record<string, unknown>;
  /** Parameter fields of the row, by GenerationParams name. */
  overrides: Partial<Record<keyof GenerationParams, unknown>>;
}

/** A row that cannot run, and why. */
export interface BadRow {
  index: number;
  line: number;
  message: string;
}

/** Row field (lower case, "-" or "_") → GenerationParams field, and the number syntax of CSV cells. */
const PARAMETER_FIELDS: Readonly<Record<string, [keyof GenerationParams, 'integer' | 'decimal' | 'boolean' | 'string']>> = {
  max_new_tokens: ['maxNewTokens', 'integer'],
  max_length: ['maxLength', 'integer'],
  num_return_sequences: ['numReturnSequences', 'integer'],
  temperature: ['temperature', 'decimal'],
  top_k: ['topK', 'integer'],
  top_p: ['topP', 'decimal'],
  repetition_penalty: ['repetitionPenalty', 'decimal'],
  no_repeat_ngram_size: ['noRepeatNgramSize', 'integer'],
  seed: ['seed', 'integer'],
  stop: ['stop', 'string'],
  greedy: ['doSample', 'boolean'],
};

/** The format `path` names by its extension. */
export function promptsFormat(path: string): PromptsFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.txt') return 'txt';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.csv') return 'csv';
  throw new BatchFileError('invalid', 'prompts', `${path} is neither .txt, .jsonl nor .csv`);
}

/**
 * Reads a prompts file as UTF-8 text, refusing one over BATCH_LIMITS.maxFileBytes, one that is
 * not there, and one that is not text (NUL bytes or bytes that are not UTF-8), each by name.
 */
export function readPromptsFile(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new BatchFileError('refused', 'prompts', `${path} does not exist`);
    if (code === 'EISDIR') throw new BatchFileError('refused', 'prompts', `${path} is a folder, not a prompts file`);
    throw new BatchFileError('refused', 'prompts', `${path} cannot be read: ${(error as Error).message}`);
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new BatchFileError('refused', 'prompts', `${path} is not a regular file`);
    if (info.size > BATCH_LIMITS.maxFileBytes) throw new BatchFileError('refused', 'prompts', tooLarge(path, info.size));
    // One byte more than the limit, so that a file that grew after fstat is still caught.
    const buffer = Buffer.alloc(Math.min(info.size, BATCH_LIMITS.maxFileBytes) + 1);
    let read = 0;
    for (let n = -1; n !== 0 && read < buffer.length; read += n) n = readSync(fd, buffer, read, buffer.length - read, read);
    if (read > BATCH_LIMITS.maxFileBytes) throw new BatchFileError('refused', 'prompts', tooLarge(path, read));
    return decodePromptsText(buffer.subarray(0, read), path);
  } finally {
    closeSync(fd);
  }
}

function tooLarge(path: string, bytes: number): string {
  const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${path} is ${mib(bytes)}, more than the ${mib(BATCH_LIMITS.maxFileBytes)} a batch reads; split it into several files`;
}

/** Strict UTF-8 text of a prompts file's bytes: a spreadsheet saved as UTF-16 or a binary is named, not run as garbage. */
export function decodePromptsText(bytes: Uint8Array, name: string): string {
  if (bytes.includes(0)) throw new BatchFileError('refused', 'prompts', `${name} is not a text file (it contains NUL bytes): save it as UTF-8`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new BatchFileError('refused', 'prompts', `${name} is not UTF-8 text: save it as UTF-8`);
  }
}

/** Refuses a file with more rows than a batch may hold (checked on the parsed rows, bad ones included). */
export function assertRowLimit(parsed: { rows: BatchRow[]; bad: BadRow[] }, name: string): void {
  const count = parsed.rows.length + parsed.bad.length;
  if (count > BATCH_LIMITS.maxRows) {
    throw new BatchFileError('refused', 'prompts', `${name} has ${count} rows, more than the ${BATCH_LIMITS.maxRows} a batch may hold; split it into several files`);
  }
}

/** Splits `text` into its rows; bad ones come back separately, in file order. */
export function parsePrompts(text: string, format: PromptsFormat): { rows: BatchRow[]; bad: BadRow[] } {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  if (format === 'csv') return parseCsvRows(body);
  const rows: BatchRow[] = [];
  const bad: BadRow[] = [];
  const lines = body.split('\n');
  // A final newline ends the last line; it does not start an empty row.
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, index) => {
    const line = index + 1;
    const content = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (format === 'txt') {
      pushRow(rows, bad, { index, line, prompt: content, fields: { prompt: content }, overrides: {} });
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(content);
    } catch (error) {
      bad.push({ index, line, message: content.trim() === '' ? 'empty line' : `not valid JSON (${(error as Error).message})` });
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      bad.push({ index, line, message: 'not a JSON object' });
      return;
    }
    const fields = value as Record<string, unknown>;
    if (typeof fields.prompt !== 'string') {
      bad.push({ index, line, message: fields.prompt === undefined ? 'no "prompt" field' : '"prompt" is not a string' });
      return;
    }
    const overrides = jsonOverrides(fields);
    if (typeof overrides === 'string') bad.push({ index, line, message: overrides });
    else pushRow(rows, bad, { index, line, prompt: fields.prompt, fields, overrides });
  });
  return { rows, bad };
}

/** An empty prompt is a bad row (so is one that is only whitespace: nothing to continue). */
function pushRow(rows: BatchRow[], bad: BadRow[], row: BatchRow): void {
  if (row.prompt.trim() === '') bad.push({ index: row.index, line: row.line, message: 'prompt is empty' });
  else rows.push(row);
}

function parameterOf(name: string): [keyof GenerationParams, 'integer' | 'decimal' | 'boolean' | 'string'] | undefined {
  return PARAMETER_FIELDS[name.toLowerCase().replaceAll('-', '_')];
}

/** Parameter overrides of a JSON row (typed values as given), or the reason they are invalid. */
function jsonOverrides(fields: Record<string, unknown>): BatchRow['overrides'] | string {
  const overrides: BatchRow['overrides'] = {};
  for (const [name, value] of Object.entries(fields)) {
    const parameter = parameterOf(name);
    if (!parameter || value === null) continue;
    const [field, kind] = parameter;
    if (kind === 'boolean') {
      if (typeof value !== 'boolean') return `"${name}" must be true or false`;
      overrides.doSample = !value;
    } else if (field === 'stop') {
      overrides.stop = typeof value === 'string' ? [value] : value;
    } else {
      overrides[field] = value;
    }
  }
  return overrides;
}

/** Parameter overrides of a CSV row (text cells; an empty cell sets nothing), or the reason they are invalid. */
function csvOverrides(fields: Record<string, string>): BatchRow['overrides'] | string {
  const overrides: BatchRow['overrides'] = {};
  for (const [name, text] of Object.entries(fields)) {
    const parameter = parameterOf(name);
    if (!parameter || text === '') continue;
    const [field, kind] = parameter;
    if (kind === 'integer' || kind === 'decimal') {
      const value = kind === 'integer' ? integerFromText(text) : decimalFromText(text);
      if (typeof value !== 'number') return `${name}: ${value.error}`;
      overrides[field] = value;
    } else if (kind === 'string') {
      overrides.stop = [text];
    } else {
      const flag = text.trim().toLowerCase();
      if (!['true', 'false', '1', '0', 'yes', 'no'].includes(flag)) return `"${name}" must be true or false, got ${JSON.stringify(text)}`;
      overrides.doSample = !['true', '1', 'yes'].includes(flag);
    }
  }
  return overrides;
}

/** RFC 4180 records with the 1-based line each starts on; quoted fields may hold commas, quotes ("") and newlines. */
function csvRecords(text: string): { line: number; cells: string[]; error?: string }[] {
  const records: { line: number; cells: string[]; error?: string }[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let wasQuoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        if (ch === '\n') line++;
        cell += ch;
      }
      continue;
    }
    if (ch === '"' && cell === '' && !wasQuoted) {
      quoted = true;
      wasQuoted = true;
    } else if (ch === ',') {
      cells.push(cell);
      cell = '';
      wasQuoted = false;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      cells.push(cell);
      records.push({ line: start, cells });
      cells = [];
      cell = '';
      wasQuoted = false;
      line++;
      start = line;
    } else {
      cell += ch;
    }
  }
  if (quoted) {
    records.push({ line: start, cells: [...cells, cell], error: 'a quoted field is not closed before the end of the file' });
  } else if (cell !== '' || cells.length > 0) {
    cells.push(cell);
    records.push({ line: start, cells });
  }
  return records;
}

function parseCsvRows(text: string): { rows: BatchRow[]; bad: BadRow[] } {
  const records = csvRecords(text);
  const header = records.shift();
  if (!header || header.error) throw new BatchFileError('invalid', 'prompts', 'the CSV file has no header row');
  const names = header.cells.map((c) => c.trim());
  const promptColumn = names.findIndex((n) => n.toLowerCase() === 'prompt');
  if (promptColumn < 0) throw new BatchFileError('invalid', 'prompts', `the CSV header has no "prompt" column (columns: ${names.join(', ')})`);
  const rows: BatchRow[] = [];
  const bad: BadRow[] = [];
  records.forEach((record, index) => {
    const { line } = record;
    if (record.error) return bad.push({ index, line, message: record.error });
    if (record.cells.length === 1 && record.cells[0] === '') return bad.push({ index, line, message: 'empty line' });
    if (record.cells.length !== names.length) {
      return bad.push({ index, line, message: `${record.cells.length} fields where the header has ${names.length}` });
    }
    const fields = Object.fromEntries(names.map((n, i) => [n, record.cells[i] as string]));
    const overrides = csvOverrides(fields);
    if (typeof overrides === 'string') return bad.push({ index, line, message: overrides });
    pushRow(rows, bad, { index, line, prompt: record.cells[promptColumn] as string, fields, overrides });
  });
  return { rows, bad };
}

/**
 * The row's GenerationParams: the run's (command line or Batch page), then the row's overrides; the row's seed, else
 * `baseSeed + index` (so a re-run gives every row the same seed), else none (the engine picks one).
 */
export function rowParams(base: GenerationParams, row: BatchRow, baseSeed: number | undefined): GenerationParams | string {
  const seed = row.overrides.seed ?? (baseSeed === undefined ? undefined : (baseSeed + row.index) % 0x1_0000_0000);
  const result = GenerationParams.safeParse({ ...base, ...row.overrides, ...(seed === undefined ? {} : { seed }) });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = String(issue?.path[0] ?? '');
  const name = Object.entries(PARAMETER_FIELDS).find(([, [f]]) => f === field)?.[0] ?? field;
  return `${name}: ${issue?.message ?? 'invalid'}`;
}
