/**
 * Inkwell's one SQLite file, opened once and shared by its stores: generation history (with
 * full-text search), documents, settings, saved comparisons and encrypted secrets. Plain Node (better-sqlite3, synchronous); never imports
 * Electron, so the app, `inkwell serve` and the tests share it.
 */
import type Database from 'better-sqlite3';
import { ComparisonStore } from './comparisons';
import { DocumentStore } from './documents';
import { GenerationStore } from './generations';
import { openHistoryDatabase } from './open-database';
import type { OpenOptions } from './open-database';
import { SecretStore } from './secrets';
import { SettingsStore } from './settings';

export type { DocumentPatch } from './documents';
export type { HistoryQuery, NewGeneration } from './generations';
export type { DatabaseOpenProblem, OpenOptions } from './open-database';
export { DatabaseOpenError } from './open-database';
export { ComparisonStore } from './comparisons';
export { DocumentStore } from './documents';
export { GenerationStore } from './generations';
export { SecretStore } from './secrets';
export { SettingsStore } from './settings';

/** What SQLite reports about the open connection. */
export interface ConnectionInfo {
  journalMode: string;
  synchronous: number;
  foreignKeys: number;
  busyTimeout: number;
  userVersion: number;
}

/** The open database file and its stores. */
export class AppDatabase {
  readonly generations: GenerationStore;
  readonly documents: DocumentStore;
  readonly settings: SettingsStore;
  readonly comparisons: ComparisonStore;
  /** Encrypted remote-engine keys (ciphertext only). */
  readonly secrets: SecretStore;
  /** True when the file can be read but not written: every write fails with ApiError read_only. */
  readonly readOnly: boolean;
  readonly #db: Database.Database;

  private constructor(db: Database.Database, readOnly: boolean) {
    this.#db = db;
    this.readOnly = readOnly;
    this.generations = new GenerationStore(db);
    this.documents = new DocumentStore(db);
    this.settings = new SettingsStore(db);
    this.comparisons = new ComparisonStore(db);
    this.secrets = new SecretStore(db);
  }

  /**
   * Opens (or creates) the database at `file`. A file that is not usable is moved to
   * `<file>.corrupt-<timestamp>` and a fresh one started, a damaged search index is rebuilt, and a
   * read-only file opens read-only; `notice` then says so, for the UI to show. Throws
   * DatabaseOpenError (with the reason) for a file from a newer Inkwell or a folder it cannot use.
   */
  static open(file: string, options: OpenOptions = {}): { database: AppDatabase; notice?: string } {
    const { db, notice, readOnly } = openHistoryDatabase(file, options);
    const database = new AppDatabase(db, readOnly);
    return notice === undefined ? { database } : { database, notice };
  }

  /** journal mode, synchronous level, foreign keys, busy timeout and schema version of this connection. */
  connectionInfo(): ConnectionInfo {
    const pragma = (name: string): unknown => this.#db.pragma(name, { simple: true });
    return {
      journalMode: String(pragma('journal_mode')),
      synchronous: Number(pragma('synchronous')),
      foreignKeys: Number(pragma('foreign_keys')),
      busyTimeout: Number(pragma('busy_timeout')),
      userVersion: Number(pragma('user_version')),
    };
  }

  /** Full check: SQLite integrity_check, the FTS index against its content, and candidate counts. Empty means healthy. */
  checkIntegrity(): string[] {
    const problems = (this.#db.pragma('integrity_check') as { integrity_check: string }[])
      .map((row) => row.integrity_check)
      .filter((line) => line !== 'ok');
    return [...problems, ...this.generations.checkIntegrity()];
  }

  /** Closes the connection (idempotent). */
  close(): void {
    if (!this.#db.open) return;
    try {
      // https://www.sqlite.org/lang_analyze.html#recommended_usage_pattern
      this.#db.pragma('optimize');
    } catch {
      // Only a statistics refresh; closing matters more.
    }
    this.#db.close();
  }
}
