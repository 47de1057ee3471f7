import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { AppDatabase } from '../../../src/main/history';
import { latestSchemaVersion } from '../../../src/main/history/migrations';
import { GenerationParams } from '../../../src/shared/api';
import { expectApiError, expectIntactIndex, useDatabaseFixture } from './database-fixture';
import { sampleGeneration } from './sample-generation';

const openStore = useDatabaseFixture();

describe('GenerationStore', () => {
  it('saves a generation with every field and reads it back the same, from a fresh connection too', () => {
    const { database: store, file } = openStore();
    const input = sampleGeneration({ createdAt: '2024-05-01T10:00:00+02:00' });
    const saved = store.generations.add(input);
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
      documentTitle: null,
    };
    expect(saved).toEqual(expected);
    store.close();
    const reopened = AppDatabase.open(file).database;
    expect(reopened.generations.get(saved.id)).toEqual(expected);
    reopened.close();
  });

  it('stars, accepts and deletes, keeping the full-text index consistent', () => {
    const { database: store, file } = openStore();
    const a = store.generations.add(sampleGeneration({ prompt: 'alpha lighthouse' }));
    const b = store.generations.add(sampleGeneration({ prompt: 'beta harbour' }));
    expect(store.generations.setStarred(a.id, true).starred).toBe(true);
    expect(store.generations.setStarred(a.id, false).starred).toBe(false);
    expect(store.generations.setAccepted(b.id, 1).acceptedIndex).toBe(1);
    expect(store.generations.setAccepted(b.id, null).acceptedIndex).toBeNull();
    expectApiError(() => store.generations.setAccepted(b.id, 2), 'invalid_request', /out of range.*2 candidate/);
    expectApiError(() => store.generations.setAccepted(b.id, -1), 'invalid_request');
    expect(store.generations.get(b.id).acceptedIndex).toBeNull();

    expect(store.generations.list({ query: 'alpha' }).entries.map((e) => e.id)).toEqual([a.id]);
    expect(store.generations.delete(a.id)).toEqual({ deleted: true });
    expect(store.generations.delete(a.id)).toEqual({ deleted: false });
    expect(store.generations.list({ query: 'alpha' }).total).toBe(0);
    expectApiError(() => store.generations.get(a.id), 'not_found', new RegExp(`history entry ${a.id} not found`));
    expect(store.checkIntegrity()).toEqual([]);
    store.close();
    expectIntactIndex(file);
    const db = new Database(file);
    expect(db.prepare('SELECT count(*) FROM candidates WHERE generation_id = ?').pluck().get(a.id)).toBe(0);
    db.close();
  });

  it('never reuses the id of a deleted entry', () => {
    const { database: store } = openStore();
    const first = store.generations.add(sampleGeneration());
    store.generations.delete(first.id);
    expect(store.generations.add(sampleGeneration()).id).toBeGreaterThan(first.id);
    store.close();
  });

  it('answers not_found for unknown ids on every entry method', () => {
    const { database: store } = openStore();
    expectApiError(() => store.generations.get(999), 'not_found');
    expectApiError(() => store.generations.setStarred(999, true), 'not_found');
    expectApiError(() => store.generations.setAccepted(999, 0), 'not_found');
    expectApiError(() => store.generations.export('json', { ids: [999] }), 'not_found', /999/);
    store.close();
  });

  it('refuses a malformed generation with invalid_request and writes nothing', () => {
    const { database: store } = openStore();
    const bad = sampleGeneration({ device: 'tpu' as never });
    expectApiError(() => store.generations.add(bad), 'invalid_request', /device/);
    expectApiError(() => store.generations.add(sampleGeneration({ createdAt: 'yesterday' })), 'invalid_request', /createdAt/);
    expect(store.generations.list().total).toBe(0);
    store.close();
  });

  it('stores non-finite timings as 0 instead of failing the save', () => {
    const { database: store } = openStore();
    const saved = store.generations.add(sampleGeneration({ timings: { loadMs: 0, prefillMs: 1, decodeMs: 0, tokensPerSecond: Number.POSITIVE_INFINITY } }));
    expect(saved.timings.tokensPerSecond).toBe(0);
    store.close();
  });

  it('keeps a generation whose document was deleted meanwhile, with documentId null', () => {
    const { database: store } = openStore();
    const doc = store.documents.create('Gone soon', '');
    store.documents.delete(doc.id);
    expect(store.generations.add(sampleGeneration({ documentId: doc.id })).documentId).toBeNull();
    store.close();
  });

  it('reads back params stored by another version: unknown keys dropped, defaults filled', () => {
    const { database: store, file } = openStore();
    const saved = store.generations.add(sampleGeneration());
    store.close();
    const db = new Database(file);
    db.prepare('UPDATE generations SET params = ? WHERE id = ?').run(JSON.stringify({ temperature: 0.5, futureKnob: 3, topK: -7 }), saved.id);
    db.close();
    const reopened = AppDatabase.open(file).database;
    expect(reopened.generations.get(saved.id).params).toEqual(GenerationParams.parse({ temperature: 0.5 }));
    reopened.close();
  });
});

describe('GenerationStore list filters and pagination', () => {
  function seed(store: AppDatabase): Record<string, number> {
    const doc = store.documents.create('Novel', 'text');
    const ids: Record<string, number> = {};
    const add = (name: string, overrides: Parameters<typeof sampleGeneration>[0]): void => {
      ids[name] = store.generations.add(sampleGeneration({ prompt: `${name} prompt`, ...overrides })).id;
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
    const { database: store } = openStore();
    const ids = seed(store);
    const names = (query: Parameters<AppDatabase['generations']['list']>[0]): string[] =>
      store.generations.list(query).entries.map((entry) => entry.prompt.split(' ')[0] ?? '');
    expect(names({})).toEqual(['may2start', 'may1end', 'may1noon', 'may1start', 'apr30late']);
    expect(names({ modelId: 'gpt2' })).toEqual(['may1end', 'may1start', 'apr30late']);
    expect(names({ from: '2024-05-01', to: '2024-05-01' })).toEqual(['may1end', 'may1noon', 'may1start']);
    expect(names({ from: '2024-05-01T12:00:00Z', to: '2024-05-02T00:00:00Z' })).toEqual(['may2start', 'may1end', 'may1noon']);
    expect(names({ to: '2024-05-01T14:00:00+02:00' })).toEqual(['may1noon', 'may1start', 'apr30late']);
    expect(names({ from: '2024-05-03' })).toEqual([]);
    store.generations.setStarred(ids.may1noon ?? 0, true);
    expect(names({ starredOnly: true })).toEqual(['may1noon']);
    expect(names({ documentId: ids.doc })).toEqual(['may1end', 'may1start']);
    expect(names({ documentId: ids.doc, modelId: 'gpt2', from: '2024-05-01T06:00:00Z', query: 'prompt' })).toEqual(['may1end']);
    store.close();
  });

  it('pages through results with a stable total', () => {
    const { database: store } = openStore();
    for (let i = 0; i < 23; i++) store.generations.add(sampleGeneration({ prompt: `page item ${i}`, createdAt: new Date(Date.UTC(2024, 0, 1, 0, i)).toISOString() }));
    store.generations.add(sampleGeneration({ prompt: 'unrelated' }));
    const seen: string[] = [];
    for (let offset = 0; offset < 30; offset += 5) {
      const page = store.generations.list({ query: 'page item', limit: 5, offset });
      expect(page.total).toBe(23);
      expect(page.entries.length).toBe(Math.max(0, Math.min(5, 23 - offset)));
      seen.push(...page.entries.map((entry) => entry.prompt));
    }
    expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => `page item ${22 - i}`));
    store.close();
  });

  it('rejects an invalid query with invalid_request naming the field', () => {
    const { database: store } = openStore();
    expectApiError(() => store.generations.list({ limit: 0 }), 'invalid_request', /limit/);
    expectApiError(() => store.generations.list({ from: 'last week' }), 'invalid_request', /from/);
    expectApiError(() => store.generations.list({ query: 'x'.repeat(501) }), 'invalid_request', /query/);
    store.close();
  });
});

describe('GenerationStore export', () => {
  it('exports JSON that parses back to the same entries, oldest first', () => {
    const { database: store } = openStore();
    const first = store.generations.add(sampleGeneration({ prompt: 'first', createdAt: '2024-01-01T00:00:00Z' }));
    const second = store.generations.setAccepted(store.generations.add(sampleGeneration({ prompt: 'second', createdAt: '2024-01-02T00:00:00Z' })).id, 0);
    const all = store.generations.export('json');
    expect(all.mimeType).toBe('application/json');
    expect(all.filename).toMatch(/^inkwell-history-\d{8}-\d{6}\.json$/);
    expect(JSON.parse(all.content)).toEqual([first, second]);
    expect(JSON.parse(store.generations.export('json', { ids: [second.id] }).content)).toEqual([second]);
    store.close();
  });

  it('exports readable Markdown with every prompt and candidate, the accepted one marked, fences unbreakable', () => {
    const { database: store } = openStore();
    const tricky = 'code: ```js\nalert(1)\n``` and ```` more';
    const entry = store.generations.setAccepted(
      store.generations.add(
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
    const md = store.generations.export('markdown');
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
    const { database: store } = openStore();
    // 300 000 runs of one backtick, then one run of four: the fence must be five long.
    const many = `${'`a'.repeat(300_000)}\`\`\`\``;
    store.generations.add(sampleGeneration({ prompt: many }));
    const md = store.generations.export('markdown');
    expect(md.content).toContain(`\`\`\`\`\`text\n${many}\n\`\`\`\`\``);
    store.close();
  });
});

describe('GenerationStore filtered export, document titles and date ranges (issue 7)', () => {
  it('exports every entry the filters match, not one page of them', () => {
    const { database: store } = openStore();
    const doc = store.documents.create('Chapter 2', '');
    for (let i = 0; i < 60; i += 1) {
      store.generations.add(sampleGeneration({ prompt: `watchman ${i}`, modelId: i % 2 === 0 ? 'gpt2' : 'tiny', createdAt: `2024-03-0${1 + (i % 5)}T12:00:00Z`, documentId: i < 10 ? doc.id : null }));
    }
    for (let i = 0; i < 10; i += 1) store.generations.add(sampleGeneration({ prompt: `harbour ${i}`, memory: '' }));
    const exported = (filters: Parameters<typeof store.generations.export>[1]) =>
      (JSON.parse(store.generations.export('json', filters).content) as { prompt: string }[]).map((entry) => entry.prompt);
    expect(store.generations.list({ query: 'watchman' }).entries).toHaveLength(50);
    expect(exported({ query: 'watchman' })).toHaveLength(60);
    expect(exported({ query: 'watchman', modelId: 'gpt2' })).toHaveLength(30);
    expect(exported({ query: 'watchman', from: '2024-03-02', to: '2024-03-02' })).toHaveLength(12);
    expect(exported({ documentId: doc.id })).toHaveLength(10);
    expect(exported({})).toHaveLength(70);
    // ids narrow the selection; the filters still apply.
    const ids = store.generations.list({ query: 'harbour' }).entries.map((entry) => entry.id);
    expect(exported({ ids, query: 'harbour 3' })).toEqual(['harbour 3']);
    const first = store.generations.list({ limit: 1 }).entries[0]!;
    store.generations.setStarred(first.id, true);
    expect(exported({ starredOnly: true })).toEqual([first.prompt]);
    const markdown = store.generations.export('markdown', { query: 'watchman' }).content;
    expect(markdown).toMatch(/Exported .* · 60 entries/);
    store.close();
  });

  it('names each entry\'s document, follows a rename, and says null once the document is gone', () => {
    const { database: store } = openStore();
    const doc = store.documents.create('The Lighthouse', 'text');
    const inDoc = store.generations.add(sampleGeneration({ documentId: doc.id }));
    const loose = store.generations.add(sampleGeneration({ documentId: null }));
    expect(store.generations.get(inDoc.id).documentTitle).toBe('The Lighthouse');
    expect(store.generations.get(loose.id).documentTitle).toBeNull();
    store.documents.save(doc.id, { title: 'The Keeper' });
    expect(store.generations.list({}).entries.map((entry) => entry.documentTitle)).toEqual([null, 'The Keeper']);
    expect(store.generations.export('markdown').content).toContain('- Document: The Keeper');
    store.documents.delete(doc.id);
    expect(store.generations.get(inDoc.id)).toMatchObject({ documentId: null, documentTitle: null });
    store.close();
  });

  it('refuses a range whose start is after its end, saying so, for lists and exports', () => {
    const { database: store } = openStore();
    store.generations.add(sampleGeneration({ createdAt: '2024-05-01T10:00:00Z' }));
    expectApiError(() => store.generations.list({ from: '2024-05-03', to: '2024-05-01' }), 'invalid_request', /"from" \(2024-05-03\) is later than "to" \(2024-05-01\)/);
    expectApiError(() => store.generations.export('json', { from: '2024-05-01T12:00:00Z', to: '2024-05-01T11:00:00Z' }), 'invalid_request', /is later than/);
    expect(store.generations.list({ from: '2024-05-01', to: '2024-05-01' }).total).toBe(1);
    expect(store.generations.list({ from: '2024-05-01T10:00:00Z', to: '2024-05-01T10:00:00Z' }).total).toBe(1);
    store.close();
  });
});

describe("each generated token's log-probability (issue 8 §5)", () => {
  it('is kept with every candidate that has it and read back from a fresh connection', () => {
    const { database: store, file } = openStore();
    const saved = store.generations.add(
      sampleGeneration({
        candidates: [
          { text: ' a b', tokenIds: [257, 275], finishReason: 'length', tokenLogprobs: [-0.5, -3.25] },
          { text: ' c', tokenIds: [269], finishReason: 'stop', tokenLogprobs: [-12.75] },
          { text: ' d', tokenIds: [288], finishReason: 'stop' },
        ],
      }),
    );
    store.close();
    const reopened = AppDatabase.open(file).database;
    const candidates = reopened.generations.get(saved.id).candidates;
    expect(candidates.map((c) => c.tokenLogprobs)).toEqual([[-0.5, -3.25], [-12.75], undefined]);
    reopened.close();
  });

  it('entries saved before the column existed still load, without probabilities', () => {
    const { database: store, file } = openStore();
    const entry = store.generations.add(sampleGeneration());
    store.close();
    // Back to schema 4 as an older Inkwell left it: no column, the entry's candidates without probabilities.
    const db = new Database(file);
    db.exec('ALTER TABLE candidates DROP COLUMN token_logprobs; DROP TABLE comparisons_fts; DROP TABLE comparisons; DROP TABLE secrets;');
    db.pragma('user_version = 4');
    db.close();
    const current = AppDatabase.open(file).database;
    expect(current.connectionInfo().userVersion).toBe(latestSchemaVersion);
    const loaded = current.generations.get(entry.id);
    expect(loaded.candidates.map((c) => [c.text, c.tokenLogprobs])).toEqual([
      [' there was a keeper.', undefined],
      [' the sea was calm.', undefined],
    ]);
    current.close();
  });
});
