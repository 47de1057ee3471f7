/** Opens a fresh database per test and checks errors and the full-text index the way every history test does. */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { AppDatabase } from '../../../src/main/history';
import { ApiError } from '../../../src/shared/api';
import { useTempDirs } from '../../helpers/tmp';

/** Returns a function that opens a fresh database (in a temp folder removed after each test). */
export function useDatabaseFixture(): () => { database: AppDatabase; file: string } {
  const tempDir = useTempDirs('inkwell-history-');
  return () => {
    const file = join(tempDir(), 'inkwell.db');
    const { database, notice } = AppDatabase.open(file);
    expect(notice).toBeUndefined();
    return { database, file };
  };
}

/** Asserts that `fn` throws an ApiError of `kind` (and a message matching `message`). */
export function expectApiError(fn: () => unknown, kind: ApiError['kind'], message?: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ApiError);
  expect((thrown as ApiError).kind).toBe(kind);
  if (message) expect((thrown as ApiError).message).toMatch(message);
}

/** Asserts SQLite's integrity check and FTS5's own check of the index against its content. */
export function expectIntactIndex(file: string): void {
  const db = new Database(file, { readonly: false });
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    // rank 1: also compare the index with its external content (https://www.sqlite.org/fts5.html#the_integrity_check_command)
    db.prepare("INSERT INTO generations_fts (generations_fts, rank) VALUES ('integrity-check', 1)").run();
  } finally {
    db.close();
  }
}
