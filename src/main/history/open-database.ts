/**
 * Opens the history database: durable PRAGMAs, a health check, migrations. A file that cannot be
 * used (not a database, corrupt, a failing migration) is moved aside — never deleted — and a fresh
 * database takes its place, so start-up cannot crash-loop on a bad file; one whose only damage is
 * its full-text index is repaired instead (index-repair.ts). A file from a newer Inkwell, and a
 * place that cannot hold a database at all (permissions, a full disk), are refused with a
 * DatabaseOpenError that says why, leaving the user's data untouched. A file that can be read but
 * not written opens read-only, and says so.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { version as appVersion } from '../../../package.json';
import { migrate, migrations as defaultMigrations, MigrationError, NewerSchemaError, schemaVersion, schemaWriter } from './migrations';
import type { Migration } from './migrations';
import { damageIsOnlyInIndex, rebuildIndexByCopy, type IndexRepair } from './index-repair';

/** How to open: a native binding for Electron's ABI, and (tests only) a different migration list. */
export interface OpenOptions {
  nativeBinding?: string;
  /** Test-only: replaces the shipped migrations (fault injection). */
  migrations?: readonly Migration[];
  /** The Inkwell version recorded as the schema's writer (defaults to package.json's). */
  appVersion?: string;
}

/** Why a database could not be opened at all. */
export type DatabaseOpenProblem = 'newer_version' | 'read_only' | 'disk_full' | 'unavailable';

/** The database cannot be opened here and now; nothing was moved or changed. The CLI exits 2 with the message. */
export class DatabaseOpenError extends Error {
  constructor(
    readonly problem: DatabaseOpenProblem,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DatabaseOpenError';
  }
}

/** An open database, and whether it can be written. */
export interface OpenedDatabase {
  db: Database.Database;
  /** Set when something was repaired or set aside, or the file is read-only: for the UI to show. */
  notice?: string;
  /** True when the file can be read but not written (permissions, a read-only disk). */
  readOnly: boolean;
}

/** Milliseconds a statement waits for another connection's lock before SQLITE_BUSY. */
export const busyTimeoutMs = 5000;

/** SQLite error codes that say "not now" or "not here", not "this file is bad": never set the file aside for these. */
const environmentalCodes = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_CANTOPEN', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_PERM', 'SQLITE_AUTH', 'SQLITE_NOMEM'];

/** Opens (creating if needed) the database at `file`; `notice` says what was set aside or repaired and where. */
export function openHistoryDatabase(file: string, options: OpenOptions = {}): OpenedDatabase {
  const opened = openOrRecover(file, options);
  if (canWrite(opened.db)) return { ...opened, readOnly: false };
  const readOnly =
    `Inkwell cannot write to its history database ${file} (the file or its folder is read-only): your history and ` +
    `documents can be read, but nothing new can be saved until the file and ${dirname(file)} can be written again.`;
  return { db: opened.db, notice: opened.notice ? `${opened.notice} ${readOnly}` : readOnly, readOnly: true };
}

function openOrRecover(file: string, options: OpenOptions): { db: Database.Database; notice?: string } {
  try {
    mkdirSync(dirname(file), { recursive: true });
  } catch (error) {
    throw storageError(`cannot create the folder of the history database ${file}`, error);
  }
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
    migrate(db, options.migrations, options.appVersion ?? appVersion);
    return db;
  } catch (error) {
    closeQuietly(db);
    if (error instanceof NewerSchemaError) throw newerVersionError(file, error);
    if (isEnvironmental(error)) throw storageError(`cannot open the history database ${file}`, error instanceof MigrationError ? error.cause : error);
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
    // SQLITE_CANTOPEN here: the folder does not let a new database (or its -wal/-shm) be created.
    if (isEnvironmental(error)) throw storageError(`cannot open the history database ${file}`, error);
    throw new Error(`cannot open history database ${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * Whether writes reach the file. SQLite opens a file it may not write read-only without saying so,
 * and every later write fails; one header write, rolled back, tells at once.
 */
function canWrite(db: Database.Database): boolean {
  const rolledBack = new Error('probe rolled back');
  try {
    db.transaction(() => {
      db.pragma(`user_version = ${schemaVersion(db)}`);
      throw rolledBack;
    }).immediate();
  } catch (error) {
    if (error === rolledBack) return true;
    const code = sqliteCode(error) ?? '';
    if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM')) return false;
    throw storageError('cannot write to the history database', error);
  }
  return true;
}

/** A DatabaseOpenError naming what the disk or the permissions refused. */
function storageError(what: string, error: unknown): DatabaseOpenError {
  const code = sqliteCode(error) ?? '';
  const detail = error instanceof Error ? error.message : String(error);
  if (code === 'ENOSPC' || code.startsWith('SQLITE_FULL')) return new DatabaseOpenError('disk_full', `${what}: the disk is full (${detail})`, { cause: error });
  if (['EACCES', 'EPERM', 'EROFS'].includes(code) || code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_CANTOPEN')) {
    return new DatabaseOpenError('read_only', `${what}: Inkwell may not write there (${detail}); check the folder's permissions or set INKWELL_HOME to a folder you can write to`, { cause: error });
  }
  return new DatabaseOpenError('unavailable', `${what}: ${detail}`, { cause: error });
}

function newerVersionError(file: string, cause: NewerSchemaError): DatabaseOpenError {
  const writer = cause.writtenBy ? `Inkwell ${cause.writtenBy}` : 'a newer version of Inkwell';
  return new DatabaseOpenError(
    'newer_version',
    `The history database ${file} was written by ${writer} (schema ${cause.fileVersion}); this is Inkwell ${appVersion}, which ` +
      `understands schema versions up to ${cause.knownVersion}. Update Inkwell to open it. The file was left untouched.`,
    { cause },
  );
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
    if (error instanceof NewerSchemaError) throw newerVersionError(file, error);
    if (isEnvironmental(error)) throw storageError(`cannot open the history database ${file}`, error);
    throw new UnusableFileError(error);
  } finally {
    closeQuietly(db);
  }
}

function checkContents(db: Database.Database, options: OpenOptions): void {
  const version = schemaVersion(db);
  const known = (options.migrations ?? defaultMigrations).length;
  if (version > known) throw new NewerSchemaError(version, known, schemaWriter(db));
  const check = db.pragma('quick_check', { simple: true });
  if (check === 'ok') return;
  if (damageIsOnlyInIndex(db)) throw new IndexDamageError(String(check), version);
  throw new Error(`quick_check reported: ${String(check)}`);
}

/** The code of a SQLite or file-system error. */
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
  const reason = cause instanceof Error ? cause.message : String(cause);
  return (
    `The history database ${file} could not be used (${reason}). It was moved to ${aside}, where it is kept ` +
    `unchanged, and a new, empty database was started.`
  );
}
