import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppDatabase } from '../../../src/main/history';
import type { HistoryEntry } from '../../../src/shared/api';
import { buildTextFilter, literalWords, quotePhrase } from '../../../src/main/history/search-query';
import { useTempDirs } from '../../helpers/tmp';
import { sampleGeneration } from './sample-generation';

const tempDir = useTempDirs('inkwell-search-');

/** Texts with every kind of character FTS5 query syntax gives meaning to, plus scripts without spaces. */
const corpus: { prompt: string; candidates: string[] }[] = [
  { prompt: 'He said "quoted words" and left.', candidates: ["it's a trap", 'plain sailing'] },
  { prompt: 'The a-b test and the c--d case', candidates: ['AND then OR else', 'NOT x marks the spot'] },
  { prompt: 'Use *stars* and (parens) here', candidates: ['key:value pairs', 'NEAR(a b) is an operator'] },
  { prompt: 'Emoji time 😀 and family 👨‍👩‍👧', candidates: ['thumbs 👍🏽 up', 'no emoji here'] },
  { prompt: '你好世界，今天天气很好', candidates: ['日本語のテキスト', 'mixed 中文 text'] },
  { prompt: 'Discount 100% off_today', candidates: ['snake_case_name', 'C:\\path\\to\\file'] },
  { prompt: 'Éclair and crème brûlée', candidates: ['ÉCLAIR shouting', 'naïve café'] },
  { prompt: 'quotes \'single\' and "double" and `back`', candidates: ['apostrophe\'s fine', '"'] },
  { prompt: 'Lighthouse keeper at dawn', candidates: ['The LIGHTHOUSE shone', 'a keeper of keys'] },
  { prompt: 'nothing special', candidates: [] },
  { prompt: 'caret ^ and minus - and plus + signs', candidates: ['col:umn "x" y', 'a AND b OR c NOT d'] },
  { prompt: 'tabs\tand\nnewlines', candidates: ['multi\nline\ncandidate'] },
];

const hostileQueries = [
  '"', "'", '""', '"""', 'a-b', 'c--d', '-', '--', 'AND', 'OR', 'NOT', 'NOT x', 'x NOT', 'AND OR NOT', 'and', 'NEAR',
  'NEAR(', 'NEAR(a b)', 'NEAR/2', '*', 'stars*', '*stars*', '(', ')', '()', '(parens)', ':', 'key:value', 'col:umn',
  'prompt:quoted', 'outputs:trap', '^', '^caret', '+', '{', '}', '[', ']', '\\', 'C:\\path', '%', '100%', '_', 'off_today',
  '😀', '👨‍👩‍👧', '👍🏽', '👍', '你', '你好', '世界', '你好世界', '天气很好', '中文', 'テキスト', '', ' ', '   \t\n ', '\u3000',
  '"quoted words"', 'quoted words', '"quoted', "it's", "'single'", 'Éclair', 'éclair', 'ÉCLAIR', 'crème', 'brûlée',
  'lighthouse', 'LIGHTHOUSE keeper', 'keeper dawn', 'keeper nowhere', 'a', 'e', 'ab', 'xyz', '\u0000', 'a\u0000b', 'x\u0000',
  '`', '`back`', ',', '，', 'sig', 'nals', 'multi line', '\\\\', 'a"b', 'the', 'THE', 'trap"', 'x" OR "y',
];

/** Independent reference: every whitespace-separated word is a case-insensitive substring of the prompt or a candidate. */
function oracle(entries: readonly HistoryEntry[], query: string): number[] {
  const words = query
    .split(/[\s\u0000]+/u)
    .filter((word) => word.length > 0)
    .map((word) => word.toLowerCase());
  return entries
    .filter((entry) => {
      const texts = [entry.prompt, ...entry.candidates.map((candidate) => candidate.text)].map((text) => text.toLowerCase());
      return words.every((word) => texts.some((text) => text.includes(word)));
    })
    .map((entry) => entry.id);
}

describe('history full-text search', () => {
  let store: AppDatabase;
  let file: string;
  let entries: HistoryEntry[];

  beforeAll(() => {
    file = join(tempDir(), 'search.db');
    store = AppDatabase.open(file).database;
    corpus.forEach(({ prompt, candidates }, index) => {
      store.generations.add(
        sampleGeneration({
          prompt,
          createdAt: new Date(Date.UTC(2024, 0, 1, 0, index)).toISOString(),
          candidates: candidates.map((text, i) => ({ text, tokenIds: [i], finishReason: 'stop' })),
        }),
      );
    });
    entries = store.generations.list({ limit: 200 }).entries;
  });
  afterAll(() => store.close());

  it('agrees with a substring oracle for every hostile query, and never throws', () => {
    expect(entries).toHaveLength(corpus.length);
    for (const query of hostileQueries) {
      const result = store.generations.list({ query, limit: 200 });
      expect(result.entries.map((entry) => entry.id), `query ${JSON.stringify(query)}`).toEqual(oracle(entries, query));
      expect(result.total, `total for ${JSON.stringify(query)}`).toBe(result.entries.length);
    }
    // Lone surrogates are stored as SQLite receives them and read back as U+FFFD, so no oracle; just no error.
    for (const query of ['\uD800', '\uDC00x', 'ab\uD83D']) expect(() => store.generations.list({ query })).not.toThrow();
  });

  it('finds each hostile word in the entry that contains it (the oracle is not vacuous)', () => {
    const expectHit = (query: string, prompt: string): void => {
      const hits = store.generations.list({ query }).entries.map((entry) => entry.prompt);
      expect(hits, `query ${JSON.stringify(query)}`).toContain(prompt);
    };
    expectHit('"quoted', corpus[0]!.prompt);
    expectHit('a-b', corpus[1]!.prompt);
    expectHit('NOT x', corpus[1]!.prompt);
    expectHit('NEAR(a', corpus[2]!.prompt);
    expectHit('😀', corpus[3]!.prompt);
    expectHit('👨‍👩‍👧', corpus[3]!.prompt);
    expectHit('世界', corpus[4]!.prompt);
    expectHit('100%', corpus[5]!.prompt);
    expectHit('éclair', corpus[6]!.prompt);
    expectHit('lighthouse', corpus[8]!.prompt);
    expect(store.generations.list({ query: '', limit: 200 }).total).toBe(corpus.length);
    expect(store.generations.list({ query: ' \t ', limit: 200 }).total).toBe(corpus.length);
    // LIKE wildcards are escaped: unescaped, '_' and '%' would match every entry.
    expect(store.generations.list({ query: '_' }).entries.map((entry) => entry.prompt)).toEqual([corpus[5]!.prompt]);
    expect(store.generations.list({ query: '%' }).entries.map((entry) => entry.prompt)).toEqual([corpus[5]!.prompt]);
  });

  it('agrees with the oracle on random substrings of the stored texts and random mixes of words', () => {
    let state = 12345;
    const random = (n: number): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state % n;
    };
    const texts = corpus.flatMap(({ prompt, candidates }) => [prompt, ...candidates]).filter((text) => text.length > 0);
    const pieces = [...hostileQueries, ...texts.flatMap((text) => text.split(/\s+/))];
    for (let i = 0; i < 150; i++) {
      let query: string;
      if (i % 2 === 0) {
        const text = Array.from(texts[random(texts.length)]!);
        const start = random(text.length);
        query = text.slice(start, start + 1 + random(6)).join('');
      } else {
        query = Array.from({ length: 1 + random(3) }, () => pieces[random(pieces.length)]).join(' ');
      }
      const ids = store.generations.list({ query, limit: 200 }).entries.map((entry) => entry.id);
      expect(ids, `query ${JSON.stringify(query)}`).toEqual(oracle(entries, query));
    }
  });

  it('keeps the FTS index consistent with its content after inserts, updates and deletes', () => {
    const extra = store.generations.add(sampleGeneration({ prompt: 'temporary entry zebra', candidates: [{ text: 'zebra crossing', tokenIds: [], finishReason: 'stop' }] }));
    store.generations.setStarred(extra.id, true);
    store.generations.setAccepted(extra.id, 0);
    expect(store.generations.list({ query: 'zebra' }).entries.map((entry) => entry.id)).toEqual([extra.id]);
    store.generations.delete(extra.id);
    expect(store.generations.list({ query: 'zebra' }).total).toBe(0);
    const db = new Database(file);
    try {
      expect(() => db.prepare("INSERT INTO generations_fts (generations_fts, rank) VALUES ('integrity-check', 1)").run()).not.toThrow();
      // The check really compares index and content: drift the content behind the index's back and it fails.
      db.prepare('UPDATE candidates SET text = ? WHERE generation_id = (SELECT min(id) FROM generations) AND idx = 0').run('drifted text');
      expect(() => db.prepare("INSERT INTO generations_fts (generations_fts, rank) VALUES ('integrity-check', 1)").run()).toThrow(/malformed/);
      db.prepare('UPDATE candidates SET text = ? WHERE generation_id = (SELECT min(id) FROM generations) AND idx = 0').run(corpus[0]!.candidates[0]);
      expect(() => db.prepare("INSERT INTO generations_fts (generations_fts, rank) VALUES ('integrity-check', 1)").run()).not.toThrow();
    } finally {
      db.close();
    }
  });
});

describe('search query building', () => {
  it('splits on any whitespace and NUL, keeps punctuation, and drops repeats', () => {
    expect(literalWords('  a-b\t"c"\u3000d\u0000e a-b ')).toEqual(['a-b', '"c"', 'd', 'e']);
    expect(literalWords('')).toEqual([]);
  });

  it('quotes long words as FTS5 phrases (doubling quotes) and turns short ones into escaped LIKE patterns', () => {
    expect(quotePhrase('say "hi"')).toBe('"say ""hi"""');
    expect(buildTextFilter('NEAR( "quoted" 5% a_b ab 😀')).toEqual({
      match: '"NEAR(" """quoted""" "a_b"',
      likePatterns: ['%5\\%%', '%ab%', '%😀%'],
    });
    expect(buildTextFilter('  ')).toEqual({ match: null, likePatterns: [] });
  });
});
