import { describe, expect, it } from 'vitest';
import { hasSearchMatch, highlightSegments } from '../../../src/renderer/src/lib/highlight';

const marked = (text: string, query: string): string[] => highlightSegments(text, query).filter((s) => s.match).map((s) => s.text);

describe('highlightSegments', () => {
  it('marks every case-insensitive occurrence of the query words and keeps the text intact', () => {
    const segments = highlightSegments('The fog, the FOG!', 'fog the');
    expect(segments.map((s) => s.text).join('')).toBe('The fog, the FOG!');
    expect(marked('The fog, the FOG!', 'fog the')).toEqual(['The', 'fog', 'the', 'FOG']);
  });

  it('marks a quoted phrase where it occurs as written, not its words apart', () => {
    const text = 'The fog rolled over the harbour; over and under the bridge.';
    expect(marked(text, '"over the"')).toEqual(['over the']);
    expect(highlightSegments(text, '"over the"').map((s) => s.text).join('')).toBe(text);
  });

  it('marks the whole words a prefix starts, and not the same letters inside a word', () => {
    expect(marked('Lines and a linear outline; LINE.', 'line*')).toEqual(['Lines', 'linear', 'LINE']);
  });

  it('treats regex characters literally', () => {
    expect(marked('a.b axb (d) c+', 'a.b (d) c+')).toEqual(['a.b', '(d)', 'c+']);
  });

  it('returns the text as one plain segment for an empty query', () => {
    expect(highlightSegments('text', '  ')).toEqual([{ text: 'text', match: false }]);
  });
});

describe('hasSearchMatch', () => {
  it('says whether any term of the query is in the text, with the search syntax', () => {
    expect(hasSearchMatch("Captain Ahab's log", 'ahab whale')).toBe(true);
    expect(hasSearchMatch('an outline', 'line*')).toBe(false);
    expect(hasSearchMatch('over and the', '"over the"')).toBe(false);
    expect(hasSearchMatch('anything', '')).toBe(false);
  });
});
