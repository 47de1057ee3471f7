/**
 * The results file of a batch (`inkwell batch`, the Batch page): one JSON line per finished row, appended as each row ends and
 * fsynced in batches. A run killed at any point leaves whole lines plus at most one partial last
 * line; resuming cuts that partial line off, keeps every whole one and skips their rows, so no
 * row is missing and none is written twice.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { BatchFileError } from './errors';

/** Lines written between two fsyncs at most, and the longest a written line waits for one. */
const SYNC_EVERY_LINES = 16;
const SYNC_EVERY_MS = 2000;

/** What an existing output file already holds: the prompt of each finished row, by row index. */
export type FinishedRows = Map<number, string>;

/**
 * Reads the finished rows of `path` for a resume and cuts off a partial last line (a killed
 * write); refuses a file whose whole lines are not batch results.
 */
export function readFinishedRows(path: string): FinishedRows {
  const finished: FinishedRows = new Map();
  if (!existsSync(path)) return finished;
  const bytes = readFileSync(path);
  const end = bytes.lastIndexOf(0x0a) + 1;
  if (end < bytes.length) {
    const fd = openSync(path, 'r+');
    try {
      ftruncateSync(fd, end);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  const lines = bytes.subarray(0, end).toString('utf8').split('\n');
  lines.pop();
  lines.forEach((text, i) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new BatchFileError('refused', 'out', `${path}: line ${i + 1} is not JSON, so this is not a batch results file; choose another results file`);
    }
    const record = value as { index?: unknown; fields?: { prompt?: unknown } };
    if (typeof record.index !== 'number' || typeof record.fields?.prompt !== 'string') {
      throw new BatchFileError('refused', 'out', `${path}: line ${i + 1} has no row index and prompt, so this is not a batch results file; choose another results file`);
    }
    finished.set(record.index, record.fields.prompt);
  });
  return finished;
}

/** Appends lines to the output file, fsyncing every few lines, every few seconds and at close. */
export class BatchWriter {
  readonly #fd: number;
  readonly #timer: NodeJS.Timeout;
  #unsynced = 0;
  #lastSync = Date.now();

  /** Opens `path` for appending (created if missing). */
  constructor(path: string) {
    this.#fd = openSync(path, 'a');
    // A line written just before a long row must not wait for that row to reach the disk.
    this.#timer = setInterval(() => this.sync(), SYNC_EVERY_MS);
    this.#timer.unref();
  }

  /** Writes one JSON line (the whole line in one write call). */
  append(record: unknown): void {
    const bytes = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
    let done = 0;
    while (done < bytes.length) done += writeSync(this.#fd, bytes, done, bytes.length - done);
    this.#unsynced++;
    if (this.#unsynced >= SYNC_EVERY_LINES || Date.now() - this.#lastSync >= SYNC_EVERY_MS) this.sync();
  }

  /** Flushes written lines to the disk. */
  sync(): void {
    if (this.#unsynced === 0) return;
    fsyncSync(this.#fd);
    this.#unsynced = 0;
    this.#lastSync = Date.now();
  }

  /** Syncs and closes the file. */
  close(): void {
    clearInterval(this.#timer);
    try {
      this.sync();
    } finally {
      closeSync(this.#fd);
    }
  }
}

/** What a preview shows of one result line. */
export interface ResultPreviewRow {
  index: number;
  line: number;
  prompt: string;
  seed: number;
  texts: string[];
  finishReasons: string[];
}

const PREVIEW_CHUNK_BYTES = 1024 * 1024;

/**
 * The first `limit` whole lines of a results file (sorted by row index) and how many lines it
 * holds, read in chunks so that a large file is counted without being held; refuses a file whose
 * lines are not batch results.
 */
export function readResultPreview(path: string, limit: number): { rows: ResultPreviewRow[]; totalRows: number; bytes: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BatchFileError('refused', 'out', code === 'ENOENT' ? `${path} does not exist (yet)` : `${path} cannot be read: ${(error as Error).message}`);
  }
  const rows: ResultPreviewRow[] = [];
  let totalRows = 0;
  let bytes = 0;
  let pending = Buffer.alloc(0);
  try {
    const chunk = Buffer.alloc(PREVIEW_CHUNK_BYTES);
    for (let n = readSync(fd, chunk, 0, chunk.length, bytes); n > 0; n = readSync(fd, chunk, 0, chunk.length, bytes)) {
      bytes += n;
      let data = Buffer.concat([pending, chunk.subarray(0, n)]);
      for (let end = data.indexOf(0x0a); end >= 0; end = data.indexOf(0x0a)) {
        totalRows++;
        if (rows.length < limit) rows.push(previewRow(data.subarray(0, end).toString('utf8'), path, totalRows));
        data = data.subarray(end + 1);
      }
      // Lines past the preview are only counted: their bytes need not be kept.
      pending = rows.length < limit ? Buffer.from(data) : Buffer.alloc(0);
    }
  } finally {
    closeSync(fd);
  }
  return { rows: rows.sort((a, b) => a.index - b.index), totalRows, bytes };
}

function previewRow(text: string, path: string, lineNumber: number): ResultPreviewRow {
  const notOurs = (): BatchFileError => new BatchFileError('refused', 'out', `${path}: line ${lineNumber} is not a batch result, so this is not a batch results file`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw notOurs();
  }
  const record = value as { index?: unknown; line?: unknown; seed?: unknown; fields?: { prompt?: unknown }; sequences?: unknown };
  if (typeof record.index !== 'number' || typeof record.fields?.prompt !== 'string' || !Array.isArray(record.sequences)) throw notOurs();
  const sequences = record.sequences as { text?: unknown; finish_reason?: unknown }[];
  return {
    index: record.index,
    line: typeof record.line === 'number' ? record.line : record.index + 1,
    prompt: record.fields.prompt,
    seed: typeof record.seed === 'number' ? record.seed : 0,
    texts: sequences.map((s) => String(s.text ?? '')),
    finishReasons: sequences.map((s) => String(s.finish_reason ?? '')),
  };
}
