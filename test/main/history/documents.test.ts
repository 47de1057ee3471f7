import { describe, expect, it } from 'vitest';
import { expectApiError, useDatabaseFixture } from './database-fixture';
import { sampleGeneration } from './sample-generation';

const openStore = useDatabaseFixture();

describe('DocumentStore', () => {
  it('creates, lists (most recent first), saves fields and deletes documents', async () => {
    const { database: store } = openStore();
    const a = store.documents.create('Draft A', 'Hello');
    const b = store.documents.create('   ', 'héllo wörld 你好');
    expect(b.title).toBe('Untitled');
    expect(b.chars).toBe(14);
    expect(a).toMatchObject({ title: 'Draft A', content: 'Hello', memory: '', authorsNote: '', chars: 5 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const saved = store.documents.save(a.id, { content: 'Hello there', memory: 'Mem', authorsNote: 'Note' });
    expect(saved).toMatchObject({ id: a.id, title: 'Draft A', content: 'Hello there', memory: 'Mem', authorsNote: 'Note', chars: 11 });
    expect(saved.updatedAt > a.updatedAt).toBe(true);
    expect(store.documents.save(a.id, { title: 'Renamed' }).content).toBe('Hello there');
    expect(store.documents.list().map((d) => d.title)).toEqual(['Renamed', 'Untitled']);
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
});
