/**
 * Where the history database lives in Inkwell's data folder; the desktop app
 * and `inkwell serve` open the same file. Kept apart from the store so that
 * naming the file loads no SQLite.
 */
import { join } from 'node:path';

/** File name of the history database inside the data folder. */
export const HISTORY_FILE_NAME = 'inkwell.db';

/** The history database of data folder `home`: <home>/inkwell.db. */
export function historyFile(home: string): string {
  return join(home, HISTORY_FILE_NAME);
}
