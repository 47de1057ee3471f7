/**
 * What the history search box understands, shared by the back end (which turns it into SQL,
 * src/main/history/search-query.ts) and the UI's demo back end (which filters in memory), so both
 * mean the same by a query:
 * - `"over the"`: a phrase, matched as it is written, spaces included;
 * - `line*`: a word that starts with "line" (lines, linear; not outline);
 * - any other run of characters between spaces: a literal substring, punctuation and all.
 * Every term must occur, case-insensitively, in the prompt, the memory or a candidate.
 */

/** One thing the query asks for. */
export interface SearchTerm {
  kind: 'literal' | 'phrase' | 'prefix';
  text: string;
}

// NUL ends an FTS5 query string early ("unterminated string"), so it separates terms like a space.
const separator = /[\s\u0000]/u;

/** Whether `char` separates terms (white space or NUL). */
export function isSearchSeparator(char: string): boolean {
  return separator.test(char);
}

/** The distinct terms of a query, in order; empty for an empty or all-whitespace query. */
export function parseSearchQuery(query: string): SearchTerm[] {
  const terms: SearchTerm[] = [];
  const seen = new Set<string>();
  const add = (term: SearchTerm): void => {
    const key = `${term.kind}\u0000${term.text}`;
    if (seen.has(key)) return;
    seen.add(key);
    terms.push(term);
  };
  let i = 0;
  while (i < query.length) {
    if (separator.test(query[i] as string)) {
      i += 1;
      continue;
    }
    if (query[i] === '"') {
      const close = closingQuote(query, i);
      const inside = close === -1 ? '' : query.slice(i + 1, close);
      if (close !== -1 && inside.trim().length > 0) {
        add({ kind: 'phrase', text: inside });
        i = close + 1;
        continue;
      }
    }
    let end = i;
    while (end < query.length && !separator.test(query[end] as string)) end += 1;
    const word = query.slice(i, end);
    const prefix = /^(.*[^*])\*+$/su.exec(word);
    add(prefix ? { kind: 'prefix', text: prefix[1] as string } : { kind: 'literal', text: word });
    i = end;
  }
  return terms;
}

/** The quote that closes a phrase opened at `open`: the next `"` followed by a separator or the end; -1 when none. */
function closingQuote(query: string, open: number): number {
  for (let at = query.indexOf('"', open + 1); at !== -1; at = query.indexOf('"', at + 1)) {
    const next = query[at + 1];
    if (next === undefined || separator.test(next)) return at;
  }
  return -1;
}

/** Whether `text` contains `needle`, case-insensitively. */
export function containsText(text: string, needle: string): boolean {
  return text.toLowerCase().includes(needle.toLowerCase());
}

const wordCharacter = /[\p{L}\p{N}]/u;

/** Whether a word of `text` starts with `prefix`, case-insensitively: at the start, or after a character that is not a letter or digit. */
export function hasWordStartingWith(text: string, prefix: string): boolean {
  const haystack = text.toLowerCase();
  const needle = prefix.toLowerCase();
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) {
    const before = at === 0 ? '' : (Array.from(haystack.slice(Math.max(0, at - 2), at)).at(-1) ?? '');
    if (before === '' || !wordCharacter.test(before)) return true;
  }
  return false;
}

/** Whether one text holds `term` (a prefix at a word start, anything else as a substring). */
export function textHasTerm(text: string, term: SearchTerm): boolean {
  return term.kind === 'prefix' ? hasWordStartingWith(text, term.text) : containsText(text, term.text);
}

/** Whether every term of `query` occurs in one of `texts` (the in-memory meaning of a search). */
export function matchesSearch(texts: readonly string[], query: string): boolean {
  return parseSearchQuery(query).every((term) => texts.some((text) => textHasTerm(text, term)));
}
