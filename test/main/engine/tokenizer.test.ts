import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode as referenceEncode } from 'gpt-3-encoder';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer, type Gpt2Tokenizer } from '../../../src/main/engine/tokenizer';
import { EngineError } from '../../../src/main/engine/types';
import { makeRandomCheckpoint } from '../../helpers/checkpoint-factory';
import { useTempDirs } from '../../helpers/tmp';

const tempDir = useTempDirs('inkwell-tok-');

const TRICKY = [
  'Hello world',
  ' leading space and  double  spaces\n\nnew paragraphs\ttabs   ',
  "It's we'll they're I'd 3.14159 and 1,000,000 tokens!?",
  'Grüße aus Köln — “quotes”, naïve café, ﬁ ligature',
  '世界你好，这是一个测试。日本語のテキスト',
  'emoji: 🤗 👩‍👩‍👧 🏳️‍🌈 👍🏽 and math 𝔸𝔹ℂ',
  'code: for (let i = 0; i < n; i++) { x += y[i] ** 2; }',
];

describe('loadTokenizer', () => {
  let fromJson: Gpt2Tokenizer;
  let fromVocab: Gpt2Tokenizer;
  beforeAll(async () => {
    const a = tempDir();
    const b = tempDir();
    await makeRandomCheckpoint(a, { nLayer: 1, nEmbd: 16, nHead: 2, tokenizer: 'tokenizer.json' });
    await makeRandomCheckpoint(b, { nLayer: 1, nEmbd: 16, nHead: 2, tokenizer: 'vocab+merges' });
    fromJson = await loadTokenizer(a);
    fromVocab = await loadTokenizer(b);
  });

  it('encodes "Hello world" to the GPT-2 ids', () => {
    expect(fromJson.encode('Hello world')).toEqual([15496, 995]);
    expect(fromVocab.encode('Hello world')).toEqual([15496, 995]);
    expect(fromJson.decode([15496, 995])).toBe('Hello world');
    expect(fromJson.eosTokenId).toBe(50256);
    expect(fromJson.vocabSize).toBe(50257);
  });

  it('agrees with an independent GPT-2 BPE implementation (gpt-3-encoder) on tricky text', () => {
    for (const text of TRICKY) {
      const expected = referenceEncode(text);
      expect(fromJson.encode(text), text).toEqual(expected);
      expect(fromVocab.encode(text), text).toEqual(expected);
    }
  });

  it('round-trips text through encode/decode and through concatenated tokenBytes', () => {
    const utf8 = new TextEncoder();
    for (const text of TRICKY) {
      const ids = fromJson.encode(text);
      expect(fromJson.decode(ids), text).toBe(text);
      const bytes = Buffer.concat(ids.map((id) => fromJson.tokenBytes(id)));
      expect(bytes.equals(Buffer.from(utf8.encode(text))), text).toBe(true);
    }
  });

  it('splits multi-byte characters across tokens, whose bytes alone are not valid UTF-8', () => {
    const ids = fromJson.encode('🤗');
    expect(ids.length).toBeGreaterThan(1);
    const strict = new TextDecoder('utf-8', { fatal: true });
    expect(() => strict.decode(fromJson.tokenBytes(ids[0] ?? -1))).toThrow();
    expect(fromJson.tokenStrings(ids).join('')).toContain('\uFFFD');
  });

  it('gives a readable string per token', () => {
    expect(fromJson.tokenStrings([15496, 995])).toEqual(['Hello', ' world']);
    expect(fromJson.tokenStrings(fromJson.encode(' a . b'))).toEqual([' a', ' .', ' b']);
    expect(fromJson.decode(fromJson.encode(' a . b , c'))).toBe(' a . b , c');
  });

  it('handles <|endoftext|> as the special token, in text, decode and bytes', () => {
    expect(fromJson.encode('a<|endoftext|>b')).toEqual([64, 50256, 65]);
    expect(fromJson.decode([50256])).toBe('<|endoftext|>');
    expect(Buffer.from(fromJson.tokenBytes(50256)).toString('utf8')).toBe('<|endoftext|>');
    expect(Buffer.from(fromJson.tokenBytes(220)).equals(Buffer.from(' '))).toBe(true);
  });

  it('decodes nothing to nothing and refuses ids outside the vocabulary', () => {
    expect(fromJson.decode([])).toBe('');
    expect(() => fromJson.decode([50257])).toThrow(EngineError);
    expect(() => fromJson.tokenBytes(-1)).toThrow(EngineError);
    expect(() => fromJson.decode([1.5])).toThrow(EngineError);
  });

  it('fails with not_found when a folder has no tokenizer files', async () => {
    const dir = tempDir();
    await makeRandomCheckpoint(dir, { nLayer: 1, nEmbd: 16, nHead: 2 });
    rmSync(join(dir, 'tokenizer.json'));
    const error = await loadTokenizer(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).kind).toBe('not_found');
    expect((error as EngineError).message).toContain('tokenizer.json');
  });

  it('names the file when vocab.json is not valid JSON', async () => {
    const dir = tempDir();
    await makeRandomCheckpoint(dir, { nLayer: 1, nEmbd: 16, nHead: 2, tokenizer: 'vocab+merges' });
    writeFileSync(join(dir, 'vocab.json'), '{"Hello": 15496,');
    const error = await loadTokenizer(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).kind).toBe('bad_input');
    expect((error as EngineError).message).toContain(join(dir, 'vocab.json'));
  });
});
