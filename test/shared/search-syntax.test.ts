import { describe, expect, it } from 'vitest';
import { hasWordStartingWith, matchesSearch, parseSearchQuery } from '../../src/shared/search-syntax';

describe('search syntax', () => {
  it('reads phrases, prefixes and literal words, drops repeats, and keeps stray quotes and stars literal', () => {
    expect(parseSearchQuery('  a-b\t"c d"\u3000line*\u0000e a-b ')).toEqual([
      { kind: 'literal', text: 'a-b' },
      { kind: 'phrase', text: 'c d' },
      { kind: 'prefix', text: 'line' },
      { kind: 'literal', text: 'e' },
    ]);
    expect(parseSearchQuery('"unclosed here')).toEqual([{ kind: 'literal', text: '"unclosed' }, { kind: 'literal', text: 'here' }]);
    expect(parseSearchQuery('"" * ** x"y')).toEqual([
      { kind: 'literal', text: '""' },
      { kind: 'literal', text: '*' },
      { kind: 'literal', text: '**' },
      { kind: 'literal', text: 'x"y' },
    ]);
    expect(parseSearchQuery('')).toEqual([]);
  });

  it('finds a word start after punctuation and never inside a word', () => {
    expect(hasWordStartingWith('an on-line help', 'line')).toBe(true);
    expect(hasWordStartingWith('an outline', 'line')).toBe(false);
    expect(hasWordStartingWith('LINE-ups', 'line')).toBe(true);
    expect(hasWordStartingWith('x😀line', 'line')).toBe(true);
    expect(hasWordStartingWith('éline', 'line')).toBe(false);
  });

  it('matches in memory as the database does: every term in some text', () => {
    expect(matchesSearch(['Over the hills', 'the line'], '"over the" line*')).toBe(true);
    expect(matchesSearch(['Over the hills', 'an outline'], '"over the" line*')).toBe(false);
    expect(matchesSearch(['anything'], '')).toBe(true);
  });
});
