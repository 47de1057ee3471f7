/**
 * Opens the history database: durable PRAGMAs, a health check, migrations. A file that cannot be
 * used (not a database, corrupt, from a newer schema, a failing migration) is moved aside — never
 * deleted — and a fresh database takes its place, so start-up cannot crash-loop on a bad file.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import Database from 'better-sqlite3';
import { migrate, migrations as defaultMigrations, MigrationError, NewerSchemaError, schemaVersion } from './migrations';
import type { Migration } from './migrations';
import { damageIsOnlyInIndex, rebuildIndexByCopy, type IndexRepair } from './index-repair';

/** How to open: a native binding for Electron's ABI, and (tests only) a different migration list. */
export interface OpenOptions {
  nativeBinding?: string;
  /** Test-only: replaces the shipped migrations (fault injection). */
  migrations?: readonly Migration[];
}

/** Milliseconds a statement waits for another connection's lock before SQLITE_BUSY. */
export const busyTimeoutMs = 5000;

/** SQLite error codes that say "not now" or "not here", not "this file is bad": never set the file aside for these. */
const environmentalCodes = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_CANTOPEN', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_PERM', 'SQLITE_AUTH', 'SQLITE_NOMEM'];

/** Opens (creating if needed) the database at `file`; `notice` says what was set aside and where. */
export function openHistoryDatabase(file: string, options: OpenOptions = {}): { db: Database.Database; notice?: string } {
  mkdirSync(dirname(file), { recursive: true });
  let repairProblem: string | undefined;
  try {
    return { db: openChecked(file, options) };
  } catch (error) {
    if (!(error instanceof UnusableFileError)) throw error;
    if (error.cause instanceof IndexDamageError) {
      try {
        const repair = rebuildIndexByCopy(file, error.cause.schemaVersion, options.migrations ?? defaultMigrations, (path) => connect(path, options, false));
        return { db: openChecked(file, options), notice: describeRepair(file, repair) };
      } catch (repairError) {
        // Not repairable after all: the file is set aside as any other unusable file, and the notice says why.
        repairProblem = repairError instanceof Error ? repairError.message : String(repairError);
      }
    }
    let asidePath: string;
    try {
      asidePath = setAside(file);
    } catch (renameError) {
      const reason = renameError instanceof Error ? renameError.message : String(renameError);
      throw new Error(`history database ${file} is unusable (${error.message}) and could not be moved aside: ${reason}`, { cause: renameError });
    }
    try {
      const notice = describeSetAside(file, asidePath, error.cause);
      return { db: openChecked(file, options), notice: repairProblem ? `${notice} (Rebuilding its damaged search index failed: ${repairProblem}.)` : notice };
    } catch (freshError) {
      // Even an empty database cannot be set up (a migration bug, a full disk): put the user's file
      // back where it was rather than pile up set-aside copies on every start.
      removeDatabaseFiles(file);
      moveDatabaseFiles(asidePath, file);
      const reason = freshError instanceof Error ? freshError.message : String(freshError);
      throw new Error(`cannot open history database ${file}: ${reason} (the existing file was left in place)`, { cause: freshError });
    }
  }
}

/** quick_check failed, but only the full-text index is damaged: the rows can be kept. */
class IndexDamageError extends Error {
  constructor(
    readonly report: string,
    readonly schemaVersion: number,
  ) {
    super(`the full-text index is damaged (quick_check reported: ${report})`);
  }
}

/** Wraps whatever made the file itself unusable. */
class UnusableFileError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

function openChecked(file: string, options: OpenOptions): Database.Database {
  const verified = probeReadOnly(file, options);
  const db = connect(file, options, false);
  try {
    if (!verified) checkContents(db, options);
    db.pragma('journal_mode = WAL');
    // better-sqlite3 builds SQLite with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1 (NORMAL): ask for FULL so a
    // commit also survives power loss, not only an application crash. https://www.sqlite.org/pragma.html#pragma_synchronous
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db, options.migrations);
    return db;
  } catch (error) {
    closeQuietly(db);
    if (isEnvironmental(error)) {
      throw new Error(`cannot open history database ${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    throw new UnusableFileError(error);
  }
}

function connect(file: string, options: OpenOptions, readonly: boolean): Database.Database {
  try {
    return new Database(file, {
      timeout: busyTimeoutMs,
      readonly,
      fileMustExist: readonly,
      ...(options.nativeBinding ? { nativeBinding: options.nativeBinding } : {}),
    });
  } catch (error) {
    throw new Error(`cannot open history database ${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * Checks an existing file through a read-only connection first: closing a read-write connection
 * may checkpoint the WAL into the main file or delete the WAL, and a file about to be set aside
 * must keep every byte. Returns false when the check could not be made read-only (a hot journal
 * that needs rolling back), leaving it to the read-write connection.
 */
function probeReadOnly(file: string, options: OpenOptions): boolean {
  if (!existsSync(file)) return true;
  const db = connect(file, options, true);
  try {
    checkContents(db, options);
    return true;
  } catch (error) {
    if (sqliteCode(error)?.startsWith('SQLITE_READONLY')) return false;
    if (isEnvironmental(error)) {
      throw new Error(`cannot open history database ${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    throw new UnusableFileError(error);
  } finally {
    closeQuietly(db);
  }
}

function checkContents(db: Database.Database, options: OpenOptions): void {
  const version = schemaVersion(db);
  const known = (options.migrations ?? defaultMigrations).length;
  if (version > known) throw new NewerSchemaError(version, known);
  const check = db.pragma('quick_check', { simple: true });
  if (check === 'ok') return;
  if (damageIsOnlyInIndex(db)) throw new IndexDamageError(String(check), version);
  throw new Error(`quick_check reported: ${String(check)}`);
}

function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function isEnvironmental(error: unknown): boolean {
  const code = sqliteCode(error instanceof MigrationError ? error.cause : error);
  return code !== undefined && environmentalCodes.some((prefix) => code === prefix || code.startsWith(`${prefix}_`));
}

function closeQuietly(db: Database.Database): void {
  try {
    db.close();
  } catch {
    // The handle is being discarded because the file is unusable; a failing close changes nothing.
  }
}

const companionSuffixes = ['-wal', '-shm', '-journal'];

/** Renames `file` and its -wal/-shm/-journal companions to `<file>.corrupt-<timestamp>…`; returns the new path. */
function setAside(file: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  let aside = `${file}.corrupt-${stamp}`;
  for (let n = 2; existsSync(aside); n++) aside = `${file}.corrupt-${stamp}-${n}`;
  moveDatabaseFiles(file, aside);
  return aside;
}

/** The WAL moves with its database (same suffixes), so the moved copy still opens with its last commits. */
function moveDatabaseFiles(from: string, to: string): void {
  for (const suffix of companionSuffixes) {
    if (existsSync(from + suffix)) renameSync(from + suffix, to + suffix);
  }
  if (existsSync(from)) renameSync(from, to);
}

function removeDatabaseFiles(file: string): void {
  for (const path of [file, ...companionSuffixes.map((suffix) => file + suffix)]) rmSync(path, { force: true });
}

function describeRepair(file: string, repair: IndexRepair): string {
  return (
    `The search index of the history database ${file} was damaged. It was rebuilt from your ${repair.entries} saved ` +
    `generation(s); nothing was lost. The damaged file is kept, unchanged, at ${repair.damagedCopy}.`
  );
}

function describeSetAside(file: string, aside: string, cause: unknown): string {
  if (cause instanceof NewerSchemaError) {
    return (
      `The history database ${file} was written by a newer version of Inkwell (schema ${cause.fileVersion}; ` +
      `this version understands up to ${cause.knownVersion}). It was moved, unchanged, to ${aside} and a new, empty ` +
      `database was started. To get that history back, quit Inkwell, update it, and put that file back as ${basename(file)}.`
    );
  }
  const reason = cause instanceof Error ? cause.message : String(cause);
  return (
    `The history database ${file} could not be used (${reason}). It was moved to ${aside}, where it is kept ` +
    `unchanged, and a new, empty database was started.`
  );
}
