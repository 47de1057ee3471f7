import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { AppDatabase } from '../../../src/main/history';
import { GenerationParams, Settings } from '../../../src/shared/api';
import { expectApiError, useDatabaseFixture } from './database-fixture';

const openStore = useDatabaseFixture();

describe('SettingsStore', () => {
  it('starts from the schema defaults and stores a partial update', () => {
    const { database: store, file } = openStore();
    expect(store.settings.get()).toEqual(Settings.parse({}));
    const generation = GenerationParams.parse({ temperature: 1.3 });
    const next = store.settings.set({ theme: 'dark', generation, defaultModelId: 'gpt2' });
    expect(next).toEqual(Settings.parse({ theme: 'dark', generation, defaultModelId: 'gpt2' }));
    expect(store.settings.set({ authorsNoteDepth: 5, theme: undefined })).toMatchObject({ theme: 'dark', authorsNoteDepth: 5 });
    store.close();
    const reopened = AppDatabase.open(file).database;
    expect(reopened.settings.get()).toMatchObject({ theme: 'dark', authorsNoteDepth: 5, defaultModelId: 'gpt2', generation });
    reopened.close();
  });

  it('refuses invalid values and unknown keys, changing nothing', () => {
    const { database: store } = openStore();
    expectApiError(() => store.settings.set({ theme: 'neon' as never }), 'invalid_request', /theme/);
    expectApiError(() => store.settings.set({ bogus: 1 } as never), 'invalid_request', /bogus/);
    expect(store.settings.get()).toEqual(Settings.parse({}));
    store.close();
  });

  it('ignores stored values that are unknown, invalid or not JSON instead of crashing', () => {
    const { database: store, file } = openStore();
    store.close();
    const db = new Database(file);
    const put = db.prepare('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)');
    put.run('theme', JSON.stringify('neon'));
    put.run('authorsNoteDepth', JSON.stringify(7));
    put.run('fromTheFuture', JSON.stringify({ a: 1 }));
    put.run('generation', JSON.stringify({ temperature: 99, topK: 10, extra: true }));
    db.close();
    const reopened = AppDatabase.open(file).database;
    expect(reopened.settings.get()).toEqual(Settings.parse({ authorsNoteDepth: 7, generation: { topK: 10 } }));
    reopened.close();
  });
});
