import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { AppDatabase } from '../../../src/main/history';
import { migrations } from '../../../src/main/history/migrations';
import { openHistoryDatabase } from '../../../src/main/history/open-database';
import { useTempDirs } from '../../helpers/tmp';
import { expectApiError, useDatabaseFixture } from './database-fixture';
import { sampleGeneration } from './sample-generation';

const openStore = useDatabaseFixture();
const tempDir = useTempDirs('inkwell-documents-');

describe('DocumentStore', () => {
  it('creates, lists (most recent first), saves fields and deletes documents', async () => {
    const { database: store } = openStore();
    const a = store.documents.create('Draft A', 'Hello');
    const b = store.documents.create('   ', 'héllo wörld 你好');
    expect(b).toMatchObject({ title: 'héllo wörld 你好', autoTitle: true, chars: 14, words: 4 });
    expect(a).toMatchObject({ title: 'Draft A', autoTitle: false, content: 'Hello', memory: '', authorsNote: '', chars: 5, words: 1 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const saved = store.documents.save(a.id, { content: 'Hello there', memory: 'Mem', authorsNote: 'Note' });
    expect(saved).toMatchObject({ id: a.id, title: 'Draft A', content: 'Hello there', memory: 'Mem', authorsNote: 'Note', chars: 11, words: 2 });
    expect(saved.updatedAt > a.updatedAt).toBe(true);
    expect(store.documents.save(a.id, { title: 'Renamed' }).content).toBe('Hello there');
    expect(store.documents.list().map((d) => d.title)).toEqual(['Renamed', 'héllo wörld 你好']);
    expect(store.documents.list()[0]).not.toHaveProperty('content');
    expect(store.documents.delete(a.id)).toEqual({ deleted: true });
    expect(store.documents.delete(a.id)).toEqual({ deleted: false });
    expectApiError(() => store.documents.get(a.id), 'not_found', /document/);
    expectApiError(() => store.documents.save(a.id, { content: 'x' }), 'not_found');
    store.close();
  });

  it('keeps history entries when their document is deleted, with documentId null', () => {
    const { database: store } = openStore();
    const doc = store.documents.create('Doc', '');
    const entry = store.generations.add(sampleGeneration({ documentId: doc.id }));
    expect(entry.documentId).toBe(doc.id);
    store.documents.delete(doc.id);
    expect(store.generations.get(entry.id).documentId).toBeNull();
    store.close();
  });

  it('a document created without a title follows its first line until it is named (issue 7: every document was "Untitled")', () => {
    const { database: store } = openStore();
    const doc = store.documents.create(undefined, '');
    expect(doc).toMatchObject({ title: 'Untitled', autoTitle: true, words: 0 });
    expect(store.documents.save(doc.id, { content: '\n  The Lighthouse Keeper  \nIt was a dark night.' })).toMatchObject({ title: 'The Lighthouse Keeper', autoTitle: true, words: 8 });
    expect(store.documents.save(doc.id, { content: 'Chapter One\nIt was a dark night.' }).title).toBe('Chapter One');
    expect(store.documents.save(doc.id, { memory: 'not the title' }).title).toBe('Chapter One');
    expect(store.documents.list()[0]).toMatchObject({ id: doc.id, title: 'Chapter One', autoTitle: true, words: 7 });
    // Naming it ends the automatic title, until the name is cleared (null).
    expect(store.documents.save(doc.id, { title: 'My Story' })).toMatchObject({ title: 'My Story', autoTitle: false });
    expect(store.documents.save(doc.id, { content: 'Something else entirely' })).toMatchObject({ title: 'My Story', autoTitle: false, words: 3 });
    expect(store.documents.save(doc.id, { title: null })).toMatchObject({ title: 'Something else entirely', autoTitle: true });
    expect(store.documents.save(doc.id, { title: null, content: 'New start\nmore' })).toMatchObject({ title: 'New start', autoTitle: true, words: 3 });
    expect(store.documents.save(doc.id, { content: 'Again\nmore' }).title).toBe('Again');
    // The UI's placeholder is no title either; a title given at creation is kept.
    expect(store.documents.create('Untitled', 'First line\nsecond')).toMatchObject({ title: 'First line', autoTitle: true });
    expect(store.documents.create('Named', 'First line')).toMatchObject({ title: 'Named', autoTitle: false });
    expect(store.documents.create(undefined, `${'long '.repeat(40)}end`).title.length).toBeLessThanOrEqual(80);
    store.close();
  });

  it('gives documents saved before automatic titles existed their word count, and a title from their first line when they were "Untitled"', () => {
    const file = join(tempDir(), 'old.db');
    openHistoryDatabase(file, { migrations: migrations.slice(0, 3) }).db.close();
    const db = new Database(file);
    const insert = db.prepare("INSERT INTO documents (title, content, created_at, updated_at) VALUES (?, ?, '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')");
    insert.run('Untitled', 'Once upon a time\nthere was a keeper');
    insert.run('Named by hand', 'Three short words');
    db.close();
    const { database } = AppDatabase.open(file);
    expect(database.documents.list().map(({ title, autoTitle, words }) => ({ title, autoTitle, words }))).toEqual([
      { title: 'Named by hand', autoTitle: false, words: 3 },
      { title: 'Once upon a time', autoTitle: true, words: 8 },
    ]);
    database.close();
  });
});
