/**
 * Repairs a history database whose only damage is in its full-text index. The index is derived
 * data (FTS5 over the generation_search_text view), so it can always be rebuilt from the rows;
 * setting the whole file aside for it, as open did, showed the writer an empty history although
 * every row was intact (issue 6 §3.2). https://www.sqlite.org/fts5.html#the_rebuild_command
 *
 * A damaged b-tree page cannot be dropped or rewritten in place (SQLite walks it to free it and
 * stops with SQLITE_CORRUPT), so the rows are copied into a new file at the same schema version,
 * the index is built there, and the new file replaces the old one, which is kept beside it.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { migrate, type Migration } from './migrations';

/** Names of the FTS5 tables of the schema and of their shadow tables. */
function indexTables(db: Database.Database): { virtual: string[]; all: Set<string> } {
  const virtual = db
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%USING fts5%'")
    .pluck()
    .all() as string[];
  const all = new Set<string>();
  for (const name of virtual) {
    for (const suffix of ['', '_data', '_idx', '_content', '_docsize', '_config']) all.add(name + suffix);
  }
  return { virtual, all };
}

/** The ordinary tables that hold the data (everything but the index and SQLite's own tables). */
function contentTables(db: Database.Database): string[] {
  const index = indexTables(db).all;
  return (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").pluck().all() as string[]).filter(
    (name) => !index.has(name),
  );
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Whether a database that failed its quick_check is damaged only in its full-text index: every
 * content table (with its indexes) passes a check of its own, and the index does not.
 */
export function damageIsOnlyInIndex(db: Database.Database): boolean {
  try {
    for (const table of contentTables(db)) {
      const rows = db.pragma(`quick_check(${quote(table)})`) as { quick_check: string }[];
      if (rows.some((row) => row.quick_check !== 'ok')) return false;
    }
    return indexTables(db).virtual.length > 0;
  } catch {
    return false;
  }
}

/** What a repair did. */
export interface IndexRepair {
  /** Where the damaged file now is (kept, never deleted). */
  damagedCopy: string;
  /** Generations the rebuilt index covers. */
  entries: number;
}

/**
 * Copies every row of `file` (at schema `version`) into a new database, rebuilds the full-text
 * index there, checks it, and swaps it in; the old file and its -wal/-shm move to
 * `<file>.index-damaged-<stamp>`. Throws, leaving `file` as it was, when any step fails.
 */
export function rebuildIndexByCopy(
  file: string,
  version: number,
  migrations: readonly Migration[],
  open: (path: string) => Database.Database,
): IndexRepair {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const rebuilt = `${file}.rebuilding-${stamp}`;
  let entries = 0;
  const db = open(rebuilt);
  try {
    migrate(db, migrations.slice(0, version));
    db.prepare('ATTACH DATABASE ? AS damaged').run(file);
    db.transaction(() => {
      // Tables are copied in schema order, and a table rebuilt by a migration (6: generations) comes
      // after the tables that reference it: foreign keys are checked at the commit instead.
      db.pragma('defer_foreign_keys = ON');
      const tables = contentTables(db);
      for (const table of tables) db.exec(`INSERT INTO main.${quote(table)} SELECT * FROM damaged.${quote(table)}`);
      // AUTOINCREMENT counters: a deleted entry's id is never handed out again.
      db.exec('DELETE FROM main.sqlite_sequence');
      db.exec('INSERT INTO main.sqlite_sequence SELECT * FROM damaged.sqlite_sequence');
      for (const name of indexTables(db).virtual) db.prepare(`INSERT INTO main.${quote(name)} (${quote(name)}) VALUES ('rebuild')`).run();
      if (tables.includes('generations')) entries = db.prepare('SELECT count(*) FROM main.generations').pluck().get() as number;
    }).immediate();
    db.exec('DETACH DATABASE damaged');
    const check = db.pragma('integrity_check', { simple: true });
    if (check !== 'ok') throw new Error(`the rebuilt database does not pass integrity_check: ${String(check)}`);
    for (const name of indexTables(db).virtual) db.prepare(`INSERT INTO ${quote(name)} (${quote(name)}, rank) VALUES ('integrity-check', 1)`).run();
    db.close();
  } catch (error) {
    if (db.open) db.close();
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(rebuilt + suffix, { force: true });
    throw error;
  }
  const damagedCopy = `${file}.index-damaged-${stamp}`;
  for (const suffix of ['-wal', '-shm', '-journal']) {
    if (existsSync(file + suffix)) renameSync(file + suffix, damagedCopy + suffix);
  }
  renameSync(file, damagedCopy);
  renameSync(rebuilt, file);
  return { damagedCopy, entries };
}

/** Rebuilds the full-text index in place, from its content (when the file itself is sound). */
export function rebuildIndexInPlace(db: Database.Database): void {
  db.transaction(() => {
    for (const name of indexTables(db).virtual) db.prepare(`INSERT INTO ${quote(name)} (${quote(name)}) VALUES ('rebuild')`).run();
  }).immediate();
}
