/**
 * Token chips: whitespace made visible, and byte tokens that are parts of one character shown as
 * their bytes and grouped under that character, never as a bare "�"; with the real GPT-2 vocabulary
 * and with hand-made byte splits that cover the corner cases.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tokenText, tokenViews, visibleText, type TokenView } from '../../../../src/main/engine/inspect/token-view';
import { writeTokenizerConfig, writeTokenizerJson } from '../../../../src/main/engine/checkpoint/tokenizer-files';
import { loadTokenizer, type Gpt2Tokenizer } from '../../../../src/main/engine/tokenizer';
import { gpt2BpeTables } from '../../../helpers/checkpoint-factory';
import { useTempDirs } from '../../../helpers/tmp';

const tempDir = useTempDirs();
let tokenizer: Gpt2Tokenizer;

beforeAll(async () => {
  const dir = join(tempDir(), 'tok');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir);
  writeTokenizerJson(dir, gpt2BpeTables());
  writeTokenizerConfig(dir, 1024);
  tokenizer = await loadTokenizer(dir);
});

function viewsOf(text: string): TokenView[] {
  const ids = tokenizer.encode(text);
  return tokenViews(ids, (id) => tokenizer.tokenBytes(id), (id) => id === tokenizer.eosTokenId);
}

/** Every group's text is its tokens' bytes decoded together, and its tokens are exactly first..last. */
function expectGroupsConsistent(views: TokenView[], bytesOf: (i: number) => Uint8Array): void {
  views.forEach((view, i) => {
    expect(view.label).not.toContain('\uFFFD');
    if (view.text !== null) {
      expect(view.group).toBeUndefined();
      return;
    }
    const group = view.group!;
    expect(group.first).toBeLessThanOrEqual(i);
    expect(group.last).toBeGreaterThanOrEqual(i);
    const joined = Buffer.concat(Array.from({ length: group.last - group.first + 1 }, (_, k) => bytesOf(group.first + k)));
    expect(group.text).toBe(new TextDecoder('utf-8', { fatal: true }).decode(joined));
    for (let m = group.first; m <= group.last; m++) expect(views[m]!.group ?? { first: m, last: m }).toMatchObject({ first: group.first, last: group.last });
  });
}

describe('tokenViews with the GPT-2 vocabulary', () => {
  it('shows spaces, newlines and tabs readably and keeps the exact text', () => {
    const views = viewsOf('Hello world\n\tindented  twice');
    expect(views.map((v) => v.text).join('')).toBe('Hello world\n\tindented  twice');
    expect(views.map((v) => v.label)).toEqual(views.map((v) => visibleText(v.text!)));
    expect(views.map((v) => v.label).join('')).toBe('Hello·world↵→indented··twice');
    expect(views[0]).toMatchObject({ id: 15496, text: 'Hello', label: 'Hello', bytes: '48 65 6c 6c 6f' });
  });

  it('groups the byte tokens of one character under it and labels them with their bytes', () => {
    // GPT-2 has no token for "🦊" or "ぁ": their UTF-8 bytes are spread over several tokens.
    for (const text of ['A fox 🦊 ran', 'ぁ', 'naïve café — “quoted”', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢']) {
      const ids = tokenizer.encode(text);
      const views = tokenViews(ids, (id) => tokenizer.tokenBytes(id));
      expectGroupsConsistent(views, (i) => tokenizer.tokenBytes(ids[i]!));
      const shown = views.map((v, i) => (v.text ?? (v.group!.first === i ? v.group!.text : ''))).join('');
      expect(shown).toBe(text);
    }
    const fox = viewsOf('🦊');
    expect(fox.length).toBeGreaterThan(1);
    expect(fox.every((v) => v.text === null && v.group?.text === '🦊')).toBe(true);
    expect(fox.map((v) => v.label).join('')).toMatch(/^(⟨[0-9A-F]{2}( [0-9A-F]{2})*⟩)+$/);
    expect(fox.map((v) => v.bytes).join(' ')).toBe('f0 9f a6 8a');
  });

  it('marks <|endoftext|> as special', () => {
    const views = viewsOf('end<|endoftext|>start');
    expect(views.find((v) => v.id === 50256)).toMatchObject({ text: '<|endoftext|>', label: '<|endoftext|>', special: true });
  });
});

describe('tokenViews on hand-made byte splits', () => {
  const table = new Map<number, Uint8Array>();
  const bytesOf = (id: number) => table.get(id)!;
  const define = (...tokens: number[][]) => {
    table.clear();
    tokens.forEach((t, i) => table.set(i, Uint8Array.from(t)));
    return tokens.map((_, i) => i);
  };

  it('a token holding a whole character and the start of the next belongs to that next character\'s group', () => {
    // "aé" split as [61 C3] [A9]
    const views = tokenViews(define([0x61, 0xc3], [0xa9]), bytesOf);
    expect(views[0]).toMatchObject({ text: null, label: 'a⟨C3⟩', group: { first: 0, last: 1, text: 'aé' } });
    expect(views[1]).toMatchObject({ text: null, label: '⟨A9⟩', group: { first: 0, last: 1, text: 'aé' } });
  });

  it('characters that chain across three tokens form one group', () => {
    // "é’" = C3 A9 | E2 80 99 split as [C3] [A9 E2] [80 99]
    const ids = define([0xc3], [0xa9, 0xe2], [0x80, 0x99]);
    const views = tokenViews(ids, bytesOf);
    expectGroupsConsistent(views, (i) => bytesOf(ids[i]!));
    expect(views.map((v) => v.group)).toEqual([0, 1, 2].map(() => ({ first: 0, last: 2, text: 'é’' })));
    expect(views.map((v) => v.label)).toEqual(['⟨C3⟩', '⟨A9 E2⟩', '⟨80 99⟩']);
  });

  it('a character cut at the end of a generation stays bytes, grouped with nothing to show', () => {
    const views = tokenViews(define([0x48, 0x69], [0xe2, 0x80]), bytesOf);
    expect(views[0]).toMatchObject({ text: 'Hi', label: 'Hi' });
    expect(views[1]).toMatchObject({ text: null, label: '⟨E2 80⟩', group: { first: 1, last: 1, text: '' } });
  });

  it('a stray continuation byte and an overlong form are bytes, not characters', () => {
    const views = tokenViews(define([0x80], [0xc0, 0xaf], [0x20]), bytesOf);
    expect(views.map((v) => v.label)).toEqual(['⟨80⟩', '⟨C0 AF⟩', '·']);
    expect(views[2]).toMatchObject({ text: ' ' });
  });

  it('control characters and invisible spaces get visible stand-ins', () => {
    expect(visibleText('a\r\nb\u00a0c\u0000\u200bd\u007f')).toBe('a␍↵b⍽c␀⟨U+200B⟩d␡');
    expect(visibleText('')).toBe('∅');
  });

  it('tokenText spells a partial character as <0xHH> bytes', () => {
    expect(tokenText(Uint8Array.from([0xe2, 0x80]))).toBe('<0xE2><0x80>');
    expect(tokenText(Uint8Array.from([0x20, 0x77]))).toBe(' w');
    expect(tokenText(Uint8Array.from([0x20, 0xf0, 0x9f]))).toBe(' <0xF0><0x9F>');
  });
});
