/**
 * Migrations 7 and 8 (remote engines): the secrets table, and the generations table rebuilt so that
 * its CHECK accepts the 'remote' device. A database written at schema 4 keeps every entry, its
 * candidates, its document link, its search index and its AUTOINCREMENT counter.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { GenerationStore } from '../../../src/main/history';
import { migrate, migrations, schemaVersion } from '../../../src/main/history/migrations';
import { useTempDirs } from '../../helpers/tmp';
import { sampleGeneration } from './sample-generation';

const tempDir = useTempDirs('inkwell-migrations-remote-');

describe('migration 8: the remote device', () => {
  it('keeps a schema-6 history (the last before remote engines) whole (entries, candidates, documents, search, ids) and then accepts device "remote"', () => {
    const db = new Database(join(tempDir(), 'inkwell.db'));
    db.pragma('foreign_keys = ON');
    migrate(db, migrations.slice(0, 6));
    expect(schemaVersion(db)).toBe(6);
    const doc = db.prepare("INSERT INTO documents (title, content, created_at, updated_at) VALUES ('Story', 'text', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z') RETURNING id").pluck().get() as number;
    const store = new GenerationStore(db);
    const kept = store.add(sampleGeneration({ documentId: doc })).id;
    const deleted = store.add(sampleGeneration({ prompt: 'to be deleted' })).id;
    store.delete(deleted);
    expect(() => store.add(sampleGeneration({ device: 'remote' as never }))).toThrow();

    migrate(db);
    expect(schemaVersion(db)).toBe(migrations.length);
    const after = new GenerationStore(db);
    expect(after.get(kept)).toMatchObject({ prompt: 'Once upon a time', documentId: doc, candidates: [{ text: ' there was a keeper.' }, { text: ' the sea was calm.' }] });
    expect(after.list({ query: 'keeper' } as never).entries.map((e) => e.id)).toEqual([kept]);
    const remote = after.add(sampleGeneration({ device: 'remote', modelId: 'remote:lab/gpt2-large' }));
    // The counter survived the rebuild: a deleted entry's id is never handed out again.
    expect(remote.id).toBeGreaterThan(deleted);
    expect(after.get(remote.id)).toMatchObject({ device: 'remote', modelId: 'remote:lab/gpt2-large' });
    expect(db.pragma('foreign_key_check')).toEqual([]);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    db.close();
  });
});
