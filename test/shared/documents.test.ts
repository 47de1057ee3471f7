import { describe, expect, it } from 'vitest';
import { countWords, titleFromContent } from '../../src/shared/documents';

describe('titleFromContent', () => {
  it('takes the first non-empty line, trimmed, and says Untitled when there is none', () => {
    expect(titleFromContent('\n\n   The Lighthouse Keeper  \nIt was night.')).toBe('The Lighthouse Keeper');
    expect(titleFromContent('# Chapter One\n\ntext')).toBe('Chapter One');
    expect(titleFromContent('#hashtag line')).toBe('#hashtag line');
    expect(titleFromContent('')).toBe('Untitled');
    expect(titleFromContent(' \n\t\n')).toBe('Untitled');
  });

  it('keeps at most 80 characters, cutting at a space near the end', () => {
    const long = 'The sea was grey and the lamp above him turned its slow white circle over the water all night long';
    const title = titleFromContent(long);
    expect(Array.from(title).length).toBeLessThanOrEqual(80);
    expect(long.startsWith(title)).toBe(true);
    expect(long[title.length]).toBe(' ');
    expect(Array.from(titleFromContent('x'.repeat(200))).length).toBe(80);
    expect(Array.from(titleFromContent('😀'.repeat(100))).length).toBe(80);
  });
});

describe('countWords', () => {
  it('counts words as a writer does', () => {
    expect(countWords('')).toBe(0);
    expect(countWords('The lighthouse keeper, at dawn.')).toBe(5);
    expect(countWords("Don't stop — well-known 42 times...")).toBe(5);
    expect(countWords('  tabs\tand\nnewlines  ')).toBe(3);
    expect(countWords('今天天气很好')).toBe(6);
    expect(countWords('mixed 中文 text')).toBe(4);
    expect(countWords('naïve café crème')).toBe(3);
    expect(countWords('*** --- !!!')).toBe(0);
  });
});
