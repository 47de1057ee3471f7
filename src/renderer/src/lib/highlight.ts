/**
 * Search-term highlighting without HTML strings: text is split into plain and matching segments.
 * A query means here what it means to the back end's search (src/shared/search-syntax.ts): a
 * quoted phrase is marked where it occurs as written, `word*` marks the words starting with it,
 * anything else is marked wherever it occurs.
 */
import { parseSearchQuery, textHasTerm, type SearchTerm } from '../../../shared/search-syntax';

/** One run of text, marked when it matches a query term. */
export interface Segment {
  text: string;
  match: boolean;
}

// A prefix term marks the whole word it starts; "word start" is what the back end checks too.
const letterOrDigit = '[\\p{L}\\p{N}]';

function termPattern(term: SearchTerm): string {
  const text = escapeRegExp(term.text);
  return term.kind === 'prefix' ? `(?<!${letterOrDigit})${text}${letterOrDigit}*` : text;
}

/** Splits `text` into segments, marking case-insensitive matches of the query's terms. */
export function highlightSegments(text: string, query: string): Segment[] {
  const terms = parseSearchQuery(query);
  if (terms.length === 0 || text.length === 0) return [{ text, match: false }];
  // Longer terms first, so that a phrase wins over a literal word inside it.
  const ordered = [...terms].sort((a, b) => b.text.length - a.text.length);
  const pattern = new RegExp(ordered.map(termPattern).join('|'), 'giu');
  const segments: Segment[] = [];
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    const at = m.index ?? 0;
    if (m[0].length === 0) continue;
    if (at > last) segments.push({ text: text.slice(last, at), match: false });
    segments.push({ text: m[0], match: true });
    last = at + m[0].length;
  }
  if (last < text.length) segments.push({ text: text.slice(last), match: false });
  return segments;
}

/** Whether any term of `query` occurs in `text` (to open the part of an entry a search found). */
export function hasSearchMatch(text: string, query: string): boolean {
  return parseSearchQuery(query).some((term) => textHasTerm(text, term));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
