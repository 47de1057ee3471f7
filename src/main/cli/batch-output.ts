/**
 * The output of `inkwell batch`: one JSON line per finished row, appended as each row ends and
 * fsynced in batches. A run killed at any point leaves whole lines plus at most one partial last
 * line; `--resume` cuts that partial line off, keeps every whole one and skips their rows, so no
 * row is missing and none is written twice.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { RefusedError } from './io';

/** Lines written between two fsyncs at most, and the longest a written line waits for one. */
const SYNC_EVERY_LINES = 16;
const SYNC_EVERY_MS = 2000;

/** What an existing output file already holds: the prompt of each finished row, by row index. */
export type FinishedRows = Map<number, string>;

/**
 * Reads the finished rows of `path` for --resume and cuts off a partial last line (a killed
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
      throw new RefusedError(`${path}: line ${i + 1} is not JSON, so this is not the output of \`inkwell batch\`; choose another --out file`);
    }
    const record = value as { index?: unknown; fields?: { prompt?: unknown } };
    if (typeof record.index !== 'number' || typeof record.fields?.prompt !== 'string') {
      throw new RefusedError(`${path}: line ${i + 1} has no row index and prompt, so this is not the output of \`inkwell batch\`; choose another --out file`);
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
