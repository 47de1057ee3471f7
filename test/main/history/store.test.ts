import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { HistoryStore } from '../../../src/main/history';
import { ApiError, GenerationParams, Settings } from '../../../src/shared/api';
import { useTempDirs } from '../../helpers/tmp';
import { sampleGeneration } from './sample-generation';

const tempDir = useTempDirs('inkwell-history-');

function openStore(): { store: HistoryStore; file: string } {
  const file = join(tempDir(), 'inkwell.db');
  const { store, notice } = HistoryStore.open(file);
  expect(notice).toBeUndefined();
  return { store, file };
}

function expectApiError(fn: () => unknown, kind: ApiError['kind'], message?: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ApiError);
  expect((thrown as ApiError).kind).toBe(kind);
  if (message) expect((thrown as ApiError).message).toMatch(message);
}

function ftsIntegrity(file: string): void {
  const db = new Database(file, { readonly: false });
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    // rank 1: also compare the index with its external content (https://www.sqlite.org/fts5.html#the_integrity_check_command)
    db.prepare("INSERT INTO generations_fts (generations_fts, rank) VALUES ('integrity-check', 1)").run();
  } finally {
    db.close();
  }
}

describe('HistoryStore connection', () => {
  it('opens with WAL, synchronous FULL, foreign keys on and a busy timeout of at least 5 s', () => {
    const { store } = openStore();
    const info = store.connectionInfo();
    expect(info.journalMode).toBe('wal');
    expect(info.synchronous).toBe(2);
    expect(info.foreignKeys).toBe(1);
    expect(info.busyTimeout).toBeGreaterThanOrEqual(5000);
    expect(info.userVersion).toBe(1);
    store.close();
    store.close();
  });
});

describe('HistoryStore generations', () => {
  it('saves a generation with every field and reads it back the same, from a fresh connection too', () => {
    const { store, file } = openStore();
    const input = sampleGeneration({ createdAt: '2024-05-01T10:00:00+02:00' });
    const saved = store.addGeneration(input);
    const expected = {
      id: saved.id,
      createdAt: '2024-05-01T08:00:00.000Z',
      modelId: 'tiny',
      device: 'cpu',
      prompt: input.prompt,
      memory: input.memory,
      params: input.params,
      seed: 42,
      candidates: input.candidates,
      acceptedIndex: null,
      starred: false,
      timings: input.timings,
      promptTokens: 4,
      truncatedPromptTokens: 0,
      documentId: null,
    };
    expect(saved).toEqual(expected);
    store.close();
    const reopened = HistoryStore.open(file).store;
    expect(reopened.get(saved.id)).toEqual(expected);
    reopened.close();
  });

  it('stars, accepts and deletes, keeping the full-text index consistent', () => {
    const { store, file } = openStore();
    const a = store.addGeneration(sampleGeneration({ prompt: 'alpha lighthouse' }));
    const b = store.addGeneration(sampleGeneration({ prompt: 'beta harbour' }));
    expect(store.setStarred(a.id, true).starred).toBe(true);
    expect(store.setStarred(a.id, false).starred).toBe(false);
    expect(store.setAccepted(b.id, 1).acceptedIndex).toBe(1);
    expect(store.setAccepted(b.id, null).acceptedIndex).toBeNull();
    expectApiError(() => store.setAccepted(b.id, 2), 'invalid_request', /out of range.*2 candidate/);
    expectApiError(() => store.setAccepted(b.id, -1), 'invalid_request');
    expect(store.get(b.id).acceptedIndex).toBeNull();

    expect(store.list({ query: 'lighthouse' }).entries.map((e) => e.id)).toEqual([a.id]);
    expect(store.delete(a.id)).toEqual({ deleted: true });
    expect(store.delete(a.id)).toEqual({ deleted: false });
    expect(store.list({ query: 'lighthouse' }).total).toBe(0);
    expectApiError(() => store.get(a.id), 'not_found', new RegExp(`history entry ${a.id} not found`));
    expect(store.checkIntegrity()).toEqual([]);
    store.close();
    ftsIntegrity(file);
    const db = new Database(file);
    expect(db.prepare('SELECT count(*) FROM candidates WHERE generation_id = ?').pluck().get(a.id)).toBe(0);
    db.close();
  });

  it('never reuses the id of a deleted entry', () => {
    const { store } = openStore();
    const first = store.addGeneration(sampleGeneration());
    store.delete(first.id);
    expect(store.addGeneration(sampleGeneration()).id).toBeGreaterThan(first.id);
    store.close();
  });

  it('answers not_found for unknown ids on every entry method', () => {
    const { store } = openStore();
    expectApiError(() => store.get(999), 'not_found');
    expectApiError(() => store.setStarred(999, true), 'not_found');
    expectApiError(() => store.setAccepted(999, 0), 'not_found');
    expectApiError(() => store.export('json', [999]), 'not_found', /999/);
    store.close();
  });

  it('refuses a malformed generation with invalid_request and writes nothing', () => {
    const { store } = openStore();
    const bad = sampleGeneration({ device: 'tpu' as never });
    expectApiError(() => store.addGeneration(bad), 'invalid_request', /device/);
    expectApiError(() => store.addGeneration(sampleGeneration({ createdAt: 'yesterday' })), 'invalid_request', /createdAt/);
    expect(store.list().total).toBe(0);
    store.close();
  });

  it('stores non-finite timings as 0 instead of failing the save', () => {
    const { store } = openStore();
    const saved = store.addGeneration(sampleGeneration({ timings: { loadMs: 0, prefillMs: 1, decodeMs: 0, tokensPerSecond: Number.POSITIVE_INFINITY } }));
    expect(saved.timings.tokensPerSecond).toBe(0);
    store.close();
  });

  it('keeps a generation whose document was deleted meanwhile, with documentId null', () => {
    const { store } = openStore();
    const doc = store.createDocument('Gone soon', '');
    store.deleteDocument(doc.id);
    expect(store.addGeneration(sampleGeneration({ documentId: doc.id })).documentId).toBeNull();
    store.close();
  });

  it('reads back params stored by another version: unknown keys dropped, defaults filled', () => {
    const { store, file } = openStore();
    const saved = store.addGeneration(sampleGeneration());
    store.close();
    const db = new Database(file);
    db.prepare('UPDATE generations SET params = ? WHERE id = ?').run(JSON.stringify({ temperature: 0.5, futureKnob: 3, topK: -7 }), saved.id);
    db.close();
    const reopened = HistoryStore.open(file).store;
    expect(reopened.get(saved.id).params).toEqual(GenerationParams.parse({ temperature: 0.5 }));
    reopened.close();
  });
});

describe('HistoryStore list filters and pagination', () => {
  function seed(store: HistoryStore): Record<string, number> {
    const doc = store.createDocument('Novel', 'text');
    const ids: Record<string, number> = {};
    const add = (name: string, overrides: Parameters<typeof sampleGeneration>[0]): void => {
      ids[name] = store.addGeneration(sampleGeneration({ prompt: `${name} prompt`, ...overrides })).id;
    };
    add('apr30late', { modelId: 'gpt2', createdAt: '2024-04-30T23:59:59.999Z' });
    add('may1start', { modelId: 'gpt2', createdAt: '2024-05-01T00:00:00.000Z', documentId: doc.id });
    add('may1noon', { modelId: 'gpt2-large', createdAt: '2024-05-01T12:00:00.000Z' });
    add('may1end', { modelId: 'gpt2', createdAt: '2024-05-01T23:59:59.999Z', documentId: doc.id });
    add('may2start', { modelId: 'gpt2-large', createdAt: '2024-05-02T00:00:00.000Z' });
    ids.doc = doc.id;
    return ids;
  }

  it('filters by model, inclusive dates (a date-only "to" covers the whole UTC day), stars and document', () => {
    const { store } = openStore();
    const ids = seed(store);
    const names = (query: Parameters<HistoryStore['list']>[0]): string[] =>
      store.list(query).entries.map((entry) => entry.prompt.split(' ')[0] ?? '');
    expect(names({})).toEqual(['may2start', 'may1end', 'may1noon', 'may1start', 'apr30late']);
    expect(names({ modelId: 'gpt2' })).toEqual(['may1end', 'may1start', 'apr30late']);
    expect(names({ from: '2024-05-01', to: '2024-05-01' })).toEqual(['may1end', 'may1noon', 'may1start']);
    expect(names({ from: '2024-05-01T12:00:00Z', to: '2024-05-02T00:00:00Z' })).toEqual(['may2start', 'may1end', 'may1noon']);
    expect(names({ to: '2024-05-01T14:00:00+02:00' })).toEqual(['may1noon', 'may1start', 'apr30late']);
    expect(names({ from: '2024-05-03' })).toEqual([]);
    store.setStarred(ids.may1noon ?? 0, true);
    expect(names({ starredOnly: true })).toEqual(['may1noon']);
    expect(names({ documentId: ids.doc })).toEqual(['may1end', 'may1start']);
    expect(names({ documentId: ids.doc, modelId: 'gpt2', from: '2024-05-01T06:00:00Z', query: 'prompt' })).toEqual(['may1end']);
    store.close();
  });

  it('pages through results with a stable total', () => {
    const { store } = openStore();
    for (let i = 0; i < 23; i++) store.addGeneration(sampleGeneration({ prompt: `page item ${i}`, createdAt: new Date(Date.UTC(2024, 0, 1, 0, i)).toISOString() }));
    store.addGeneration(sampleGeneration({ prompt: 'unrelated' }));
    const seen: string[] = [];
    for (let offset = 0; offset < 30; offset += 5) {
      const page = store.list({ query: 'page item', limit: 5, offset });
      expect(page.total).toBe(23);
      expect(page.entries.length).toBe(Math.max(0, Math.min(5, 23 - offset)));
      seen.push(...page.entries.map((entry) => entry.prompt));
    }
    expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => `page item ${22 - i}`));
    store.close();
  });

  it('rejects an invalid query with invalid_request naming the field', () => {
    const { store } = openStore();
    expectApiError(() => store.list({ limit: 0 }), 'invalid_request', /limit/);
    expectApiError(() => store.list({ from: 'last week' }), 'invalid_request', /from/);
    expectApiError(() => store.list({ query: 'x'.repeat(501) }), 'invalid_request', /query/);
    store.close();
  });
});

describe('HistoryStore export', () => {
  it('exports JSON that parses back to the same entries, oldest first', () => {
    const { store } = openStore();
    const first = store.addGeneration(sampleGeneration({ prompt: 'first', createdAt: '2024-01-01T00:00:00Z' }));
    const second = store.setAccepted(store.addGeneration(sampleGeneration({ prompt: 'second', createdAt: '2024-01-02T00:00:00Z' })).id, 0);
    const all = store.export('json');
    expect(all.mimeType).toBe('application/json');
    expect(all.filename).toMatch(/^inkwell-history-\d{8}-\d{6}\.json$/);
    expect(JSON.parse(all.content)).toEqual([first, second]);
    expect(JSON.parse(store.export('json', [second.id]).content)).toEqual([second]);
    store.close();
  });

  it('exports readable Markdown with every prompt and candidate, the accepted one marked, fences unbreakable', () => {
    const { store } = openStore();
    const tricky = 'code: ```js\nalert(1)\n``` and ```` more';
    const entry = store.setAccepted(
      store.addGeneration(
        sampleGeneration({
          prompt: 'The harbour at dawn',
          candidates: [
            { text: ' gulls cried.', tokenIds: [1], finishReason: 'stop' },
            { text: tricky, tokenIds: [2], finishReason: 'length' },
          ],
        }),
      ).id,
      1,
    );
    const md = store.export('markdown');
    expect(md.mimeType).toBe('text/markdown');
    expect(md.filename).toMatch(/\.md$/);
    expect(md.content).toContain(`## Entry ${entry.id}`);
    expect(md.content).toContain('- Model: tiny (cpu)');
    expect(md.content).toContain('- Seed: 42');
    expect(md.content).toContain('temperature 0.7');
    expect(md.content).toContain('The harbour at dawn');
    expect(md.content).toContain(' gulls cried.');
    expect(md.content).toContain('### Candidate 2 (accepted)');
    expect(md.content).not.toContain('### Candidate 1 (accepted)');
    expect(md.content).toContain(`\`\`\`\`\`text\n${tricky}\n\`\`\`\`\``);
    store.close();
  });

  it('exports a text with more backtick runs than a function call takes arguments', () => {
    const { store } = openStore();
    // 300 000 runs of one backtick, then one run of four: the fence must be five long.
    const many = `${'`a'.repeat(300_000)}\`\`\`\``;
    store.addGeneration(sampleGeneration({ prompt: many }));
    const md = store.export('markdown');
    expect(md.content).toContain(`\`\`\`\`\`text\n${many}\n\`\`\`\`\``);
    store.close();
  });
});

describe('HistoryStore documents', () => {
  it('creates, lists (most recent first), saves fields and deletes documents', async () => {
    const { store } = openStore();
    const a = store.createDocument('Draft A', 'Hello');
    const b = store.createDocument('   ', 'héllo wörld 你好');
    expect(b.title).toBe('Untitled');
    expect(b.chars).toBe(14);
    expect(a).toMatchObject({ title: 'Draft A', content: 'Hello', memory: '', authorsNote: '', chars: 5 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const saved = store.saveDocument(a.id, { content: 'Hello there', memory: 'Mem', authorsNote: 'Note' });
    expect(saved).toMatchObject({ id: a.id, title: 'Draft A', content: 'Hello there', memory: 'Mem', authorsNote: 'Note', chars: 11 });
    expect(saved.updatedAt > a.updatedAt).toBe(true);
    expect(store.saveDocument(a.id, { title: 'Renamed' }).content).toBe('Hello there');
    expect(store.listDocuments().map((d) => d.title)).toEqual(['Renamed', 'Untitled']);
    expect(store.listDocuments()[0]).not.toHaveProperty('content');
    expect(store.deleteDocument(a.id)).toEqual({ deleted: true });
    expect(store.deleteDocument(a.id)).toEqual({ deleted: false });
    expectApiError(() => store.getDocument(a.id), 'not_found', /document/);
    expectApiError(() => store.saveDocument(a.id, { content: 'x' }), 'not_found');
    store.close();
  });

  it('keeps history entries when their document is deleted, with documentId null', () => {
    const { store } = openStore();
    const doc = store.createDocument('Doc', '');
    const entry = store.addGeneration(sampleGeneration({ documentId: doc.id }));
    expect(entry.documentId).toBe(doc.id);
    store.deleteDocument(doc.id);
    expect(store.get(entry.id).documentId).toBeNull();
    store.close();
  });
});

describe('HistoryStore settings', () => {
  it('starts from the schema defaults and stores a partial update', () => {
    const { store, file } = openStore();
    expect(store.getSettings()).toEqual(Settings.parse({}));
    const generation = GenerationParams.parse({ temperature: 1.3 });
    const next = store.setSettings({ theme: 'dark', generation, defaultModelId: 'gpt2' });
    expect(next).toEqual(Settings.parse({ theme: 'dark', generation, defaultModelId: 'gpt2' }));
    expect(store.setSettings({ authorsNoteDepth: 5, theme: undefined })).toMatchObject({ theme: 'dark', authorsNoteDepth: 5 });
    store.close();
    const reopened = HistoryStore.open(file).store;
    expect(reopened.getSettings()).toMatchObject({ theme: 'dark', authorsNoteDepth: 5, defaultModelId: 'gpt2', generation });
    reopened.close();
  });

  it('refuses invalid values and unknown keys, changing nothing', () => {
    const { store } = openStore();
    expectApiError(() => store.setSettings({ theme: 'neon' as never }), 'invalid_request', /theme/);
    expectApiError(() => store.setSettings({ bogus: 1 } as never), 'invalid_request', /bogus/);
    expect(store.getSettings()).toEqual(Settings.parse({}));
    store.close();
  });

  it('ignores stored values that are unknown, invalid or not JSON instead of crashing', () => {
    const { store, file } = openStore();
    store.close();
    const db = new Database(file);
    const put = db.prepare('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)');
    put.run('theme', JSON.stringify('neon'));
    put.run('authorsNoteDepth', JSON.stringify(7));
    put.run('fromTheFuture', JSON.stringify({ a: 1 }));
    put.run('generation', JSON.stringify({ temperature: 99, topK: 10, extra: true }));
    db.close();
    const reopened = HistoryStore.open(file).store;
    expect(reopened.getSettings()).toEqual(Settings.parse({ authorsNoteDepth: 7, generation: { topK: 10 } }));
    reopened.close();
  });
});
