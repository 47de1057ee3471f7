import { createRequire } from 'node:module';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { AppDatabase, DatabaseOpenError } from '../../../src/main/history';
import { latestSchemaVersion, migrate, MigrationError, migrations } from '../../../src/main/history/migrations';
import type { Migration } from '../../../src/main/history/migrations';
import { useTempDirs } from '../../helpers/tmp';
import { runUnprivileged } from '../../helpers/unprivileged';
import { sampleGeneration } from './sample-generation';

const tempDir = useTempDirs('inkwell-open-');

/** A database at the current schema with `count` entries, fully checkpointed into the main file. */
function populatedDatabase(count: number): { dir: string; file: string; prompts: string[] } {
  const dir = tempDir();
  const file = join(dir, 'inkwell.db');
  const { database: store } = AppDatabase.open(file);
  const prompts = Array.from({ length: count }, (_, i) => `entry ${i} ${'text '.repeat(i % 50)}`);
  for (const prompt of prompts) store.generations.add(sampleGeneration({ prompt }));
  store.close();
  return { dir, file, prompts };
}

function asideFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.includes('.corrupt-')).sort();
}

function userVersionOf(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}

function promptsIn(file: string): string[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT prompt FROM generations ORDER BY id').pluck().all() as string[];
  } finally {
    db.close();
  }
}

/** Opens `file`, expects it set aside with a notice, and checks the fresh store works. */
function expectSetAside(dir: string, file: string, noticePattern: RegExp): string {
  const { database: store, notice } = AppDatabase.open(file);
  expect(notice).toMatch(noticePattern);
  const aside = asideFiles(dir).filter((name) => !/-(wal|shm|journal)$/.test(name));
  expect(aside).toHaveLength(1);
  const asidePath = join(dir, aside[0]!);
  expect(aside[0]).toMatch(/^inkwell\.db\.corrupt-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/);
  expect(notice).toContain(asidePath);
  expect(store.generations.list().total).toBe(0);
  const entry = store.generations.add(sampleGeneration({ prompt: 'after recovery' }));
  expect(store.generations.list({ query: 'recovery' }).entries.map((e) => e.id)).toEqual([entry.id]);
  expect(store.connectionInfo().userVersion).toBe(latestSchemaVersion);
  expect(store.checkIntegrity()).toEqual([]);
  store.close();
  // The next start is a normal one: no second notice, no loop.
  const again = AppDatabase.open(file);
  expect(again.notice).toBeUndefined();
  expect(again.database.generations.list().total).toBe(1);
  again.database.close();
  return asidePath;
}

describe('migrations', () => {
  it('are numbered 1..n and bring an empty database to the latest version, once', () => {
    expect(migrations.map((m) => m.version)).toEqual(Array.from({ length: migrations.length }, (_, i) => i + 1));
    const db = new Database(':memory:');
    expect(migrate(db)).toEqual({ from: 0, to: latestSchemaVersion });
    expect(migrate(db)).toEqual({ from: latestSchemaVersion, to: latestSchemaVersion });
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name").pluck().all();
    expect(tables).toEqual(expect.arrayContaining(['candidates', 'documents', 'generation_search_text', 'generations', 'generations_fts', 'settings']));
    db.close();
  });

  it('refuses a migration list with gaps', () => {
    const db = new Database(':memory:');
    expect(() => migrate(db, [{ ...migrations[0]!, version: 2 }])).toThrow(/numbered/);
    db.close();
  });

  it('rolls back a migration that fails midway: user_version, schema and data stay as they were', () => {
    const { file, prompts } = populatedDatabase(5);
    const faulty: Migration = {
      version: latestSchemaVersion + 1,
      name: 'test-only: fails after changing things',
      up(db) {
        db.exec('CREATE TABLE half_done (x); ALTER TABLE generations ADD COLUMN extra TEXT; DELETE FROM candidates;');
        db.prepare('UPDATE generations SET prompt = ?').run('overwritten');
        throw new Error('injected fault');
      },
    };
    const db = new Database(file);
    expect(() => migrate(db, [...migrations, faulty])).toThrow(MigrationError);
    expect(db.pragma('user_version', { simple: true })).toBe(latestSchemaVersion);
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").pluck().get()).toBe(0);
    expect(db.prepare('SELECT count(*) FROM candidates').pluck().get()).toBe(10);
    db.close();
    expect(promptsIn(file)).toEqual(prompts);
  });

  it('when a migration fails even on an empty database, open reports it and leaves the user file where it was', () => {
    const { dir, file, prompts } = populatedDatabase(3);
    const alwaysFails: Migration = { version: latestSchemaVersion + 1, name: 'test-only: always fails', up: () => { throw new Error('injected fault'); } };
    expect(() => AppDatabase.open(file, { migrations: [...migrations, alwaysFails] })).toThrow(/injected fault.*left in place/);
    expect(asideFiles(dir)).toEqual([]);
    expect(userVersionOf(file)).toBe(latestSchemaVersion);
    expect(promptsIn(file)).toEqual(prompts);
    const { database: store, notice } = AppDatabase.open(file);
    expect(notice).toBeUndefined();
    expect(store.generations.list().total).toBe(3);
    store.close();
  });

  it('when a migration fails only on this file, the file is set aside at its old version and a fresh one migrated', () => {
    const { dir, file, prompts } = populatedDatabase(3);
    const failsWithData: Migration = {
      version: latestSchemaVersion + 1,
      name: 'test-only: rejects existing rows',
      up(db) {
        db.exec('CREATE TABLE added_in_v2 (x)');
        if ((db.prepare('SELECT count(*) FROM generations').pluck().get() as number) > 0) throw new Error('cannot convert old rows');
      },
    };
    const { database: store, notice } = AppDatabase.open(file, { migrations: [...migrations, failsWithData] });
    expect(notice).toMatch(new RegExp(`migration ${latestSchemaVersion + 1} .*cannot convert old rows`));
    expect(store.connectionInfo().userVersion).toBe(latestSchemaVersion + 1);
    store.close();
    const [aside] = asideFiles(dir).filter((name) => !/-(wal|shm)$/.test(name));
    expect(userVersionOf(join(dir, aside!))).toBe(latestSchemaVersion);
    expect(promptsIn(join(dir, aside!))).toEqual(prompts);
  });
});

describe('opening damaged or foreign files', () => {
  it('sets aside a file of garbage bytes, unchanged, with its -wal and -shm', () => {
    const dir = tempDir();
    const file = join(dir, 'inkwell.db');
    const garbage = Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + 13) % 251));
    writeFileSync(file, garbage);
    writeFileSync(`${file}-wal`, 'not a wal');
    writeFileSync(`${file}-shm`, '');
    const asidePath = expectSetAside(dir, file, /could not be used \(file is not a database\).*moved to/);
    expect(readFileSync(asidePath)).toEqual(garbage);
    expect(readFileSync(`${asidePath}-wal`, 'utf8')).toBe('not a wal');
    expect(existsSync(`${asidePath}-shm`)).toBe(true);
  });

  it('sets aside a text file that happens to be named like the database', () => {
    const dir = tempDir();
    const file = join(dir, 'inkwell.db');
    writeFileSync(file, 'SQLite format 3 but not really\n'.repeat(20));
    expectSetAside(dir, file, /could not be used/);
  });

  for (const keep of [10, 100, 4096, 0.5, -4096]) {
    it(`sets aside a database truncated to ${keep > 0 && keep < 1 ? 'half' : keep < 0 ? 'all but its last page' : `${keep} bytes`}`, () => {
      const { dir, file, prompts } = populatedDatabase(120);
      const size = readFileSync(file).length;
      const length = keep < 0 ? size + keep : keep < 1 ? Math.floor(size * keep) : keep;
      truncateSync(file, length);
      const asidePath = expectSetAside(dir, file, /could not be used \((file is not a database|database disk image is malformed|quick_check.*)\)/);
      expect(readFileSync(asidePath).length).toBe(length);
      expect(prompts.length).toBe(120);
    });
  }

  it('treats a zero-length file as a new, empty database (what SQLite does), without a notice', () => {
    const dir = tempDir();
    const file = join(dir, 'inkwell.db');
    writeFileSync(file, '');
    const { database: store, notice } = AppDatabase.open(file);
    expect(notice).toBeUndefined();
    expect(store.connectionInfo().userVersion).toBe(latestSchemaVersion);
    store.close();
    expect(asideFiles(dir)).toEqual([]);
  });

  it('creates the data folder when it does not exist yet', () => {
    const file = join(tempDir(), 'nested', 'deeper', 'inkwell.db');
    const { database: store, notice } = AppDatabase.open(file);
    expect(notice).toBeUndefined();
    store.close();
    expect(existsSync(file)).toBe(true);
  });

  it('reports a path it cannot open at all instead of moving anything', () => {
    const dir = tempDir();
    const file = join(dir, 'inkwell.db');
    mkdirSync(file);
    expect(() => AppDatabase.open(file)).toThrow(/cannot open the history database .*inkwell\.db/);
    expect(asideFiles(dir)).toEqual([]);
  });

  it('loads the native module given as nativeBinding, and reports a bad one without touching the file', () => {
    const { dir, file } = populatedDatabase(1);
    const binding = createRequire(import.meta.url).resolve('better-sqlite3/build/Release/better_sqlite3.node');
    const { database: store } = AppDatabase.open(file, { nativeBinding: binding });
    expect(store.generations.list().total).toBe(1);
    store.close();
    expect(() => AppDatabase.open(file, { nativeBinding: join(dir, 'missing.node') })).toThrow(/cannot open history database/);
    expect(asideFiles(dir)).toEqual([]);
    expect(promptsIn(file)).toHaveLength(1);
  });
});

describe('a database Inkwell may not write, or from a newer Inkwell (fault 3.3)', () => {
  const probe = join(import.meta.dirname, '../../helpers/storage-probe.ts');

  it('a read-only database is detected at open and said so; saves fail as read_only, not internal', () => {
    const { dir, file } = populatedDatabase(3);
    // Readable by the unprivileged child, writable by nobody; the folder stays writable (-wal, -shm).
    chmodSync(dir, 0o777);
    chmodSync(file, 0o444);
    const { result } = runUnprivileged<{ notice?: string; readOnly: boolean; total: number; saveError: { kind: string; message: string } | null }>(probe, ['open', file]);
    expect(result.readOnly).toBe(true);
    expect(result.notice).toMatch(/^Inkwell cannot write to its history database .*inkwell\.db \(the file or its folder is read-only\)/);
    expect(result.total).toBe(3);
    expect(result.saveError?.kind).toBe('read_only');
    expect(result.saveError?.message).toMatch(/read-only/);
    chmodSync(file, 0o644);
    expect(promptsIn(file)).toHaveLength(3);
  });

  it('refuses a database from a newer Inkwell, naming the version that wrote it, and leaves it untouched', () => {
    const { dir, file } = populatedDatabase(2);
    const db = new Database(file);
    db.pragma(`user_version = ${latestSchemaVersion + 7}`);
    db.prepare("UPDATE app_meta SET value = '9.4.0' WHERE key = 'schema_written_by'").run();
    db.close();
    const before = readFileSync(file);
    let thrown: unknown;
    try {
      AppDatabase.open(file);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DatabaseOpenError);
    expect((thrown as DatabaseOpenError).problem).toBe('newer_version');
    expect((thrown as Error).message).toMatch(
      new RegExp(`was written by Inkwell 9\\.4\\.0 \\(schema ${latestSchemaVersion + 7}\\); this is Inkwell .*, which understands schema versions up to ${latestSchemaVersion}\\. Update Inkwell to open it\\. The file was left untouched\\.`),
    );
    expect(readFileSync(file)).toEqual(before);
    expect(asideFiles(dir)).toEqual([]);
    expect(userVersionOf(file)).toBe(latestSchemaVersion + 7);
  });

  it('records which Inkwell wrote the schema', () => {
    const { file } = populatedDatabase(1);
    const db = new Database(file, { readonly: true });
    expect(db.prepare("SELECT value FROM app_meta WHERE key = 'schema_written_by'").pluck().get()).toMatch(/^\d+\.\d+\.\d+/);
    db.close();
  });
});
