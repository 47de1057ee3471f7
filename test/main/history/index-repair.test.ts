import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { AppDatabase } from '../../../src/main/history';
import { useTempDirs } from '../../helpers/tmp';
import { expectIntactIndex } from './database-fixture';
import { sampleGeneration } from './sample-generation';

const tempDir = useTempDirs('inkwell-index-repair-');

/** A database with `count` entries, checkpointed into the main file, and one leaf page of its FTS data. */
function databaseWithIndex(count: number): { dir: string; file: string; leafPage: number; pageSize: number } {
  const dir = tempDir();
  const file = join(dir, 'inkwell.db');
  const { database } = AppDatabase.open(file);
  const doc = database.documents.create('Chapter', 'text');
  for (let i = 0; i < count; i += 1) {
    database.generations.add(sampleGeneration({ prompt: `entry ${i}: the lighthouse keeper ${'climbed '.repeat(i % 30)}`, documentId: i % 2 === 0 ? doc.id : null }));
  }
  // A gap in the ids: AUTOINCREMENT must not hand the deleted id out again after the repair.
  database.generations.delete(count);
  database.close();
  const db = new Database(file);
  db.pragma('journal_mode = DELETE');
  const leaves = db.prepare("SELECT pageno FROM dbstat WHERE name = 'generations_fts_data' AND pagetype = 'leaf' ORDER BY pageno").pluck().all() as number[];
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  db.close();
  expect(leaves.length).toBeGreaterThan(3);
  return { dir, file, leafPage: leaves[Math.floor(leaves.length / 2)] as number, pageSize };
}

function overwrite(file: string, offset: number, bytes: number): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.alloc(bytes, 0x41), 0, bytes, offset);
  } finally {
    closeSync(fd);
  }
}

describe('a damaged full-text index (fault 3.2)', () => {
  it('a damaged FTS index is rebuilt and the history kept', () => {
    const { dir, file, leafPage, pageSize } = databaseWithIndex(300);
    // 64 bytes over the b-tree header of one leaf page of generations_fts_data, as in the issue.
    overwrite(file, (leafPage - 1) * pageSize, 64);
    const damaged = readFileSync(file);
    const quick = new Database(file, { readonly: true });
    expect(quick.pragma('quick_check', { simple: true })).not.toBe('ok');
    quick.close();

    const { database, notice } = AppDatabase.open(file);
    expect(notice).toMatch(/search index of the history database .* was damaged\. It was rebuilt from your 299 saved generation\(s\); nothing was lost\./);
    const kept = readdirSync(dir).filter((name) => name.includes('.index-damaged-'));
    expect(kept).toHaveLength(1);
    expect(notice).toContain(join(dir, kept[0] as string));
    expect(readFileSync(join(dir, kept[0] as string))).toEqual(damaged);
    expect(readdirSync(dir).filter((name) => name.includes('.corrupt-') || name.includes('.rebuilding-'))).toEqual([]);

    expect(database.generations.list({ limit: 1 }).total).toBe(299);
    expect(database.documents.list().map((d) => d.title)).toEqual(['Chapter']);
    // Search answers again, as a LIKE oracle over the rows (an independent connection) says it must.
    const oracle = new Database(file, { readonly: true });
    const expected = oracle.prepare("SELECT id FROM generations WHERE prompt LIKE '%climbed%' ORDER BY created_at DESC, id DESC").pluck().all() as number[];
    oracle.close();
    expect(expected.length).toBeGreaterThan(200);
    expect(database.generations.list({ query: 'climbed', limit: 200 }).total).toBe(expected.length);
    expect(database.generations.list({ query: 'climbed', limit: 200 }).entries.map((e) => e.id)).toEqual(expected.slice(0, 200));
    expect(database.checkIntegrity()).toEqual([]);
    const next = database.generations.add(sampleGeneration({ prompt: 'after the repair' }));
    expect(next.id).toBe(301);
    database.close();
    expectIntactIndex(file);

    // The next start is a normal one.
    const again = AppDatabase.open(file);
    expect(again.notice).toBeUndefined();
    again.database.close();
  });

  it('still sets aside a file whose history rows themselves are damaged', () => {
    const { dir, file, pageSize } = databaseWithIndex(300);
    const db = new Database(file, { readonly: true });
    const candidatesLeaf = db.prepare("SELECT pageno FROM dbstat WHERE name = 'candidates' AND pagetype = 'leaf' ORDER BY pageno").pluck().get() as number;
    db.close();
    overwrite(file, (candidatesLeaf - 1) * pageSize, 64);
    const { database, notice } = AppDatabase.open(file);
    expect(notice).toMatch(/could not be used/);
    expect(readdirSync(dir).some((name) => name.includes('.corrupt-'))).toBe(true);
    expect(readdirSync(dir).some((name) => name.includes('.index-damaged-'))).toBe(false);
    expect(existsSync(file)).toBe(true);
    database.close();
  });
});
