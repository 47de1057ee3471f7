/**
 * Turns what a writer types into the search box into SQL conditions, with a small, forgiving
 * syntax and everything else literal:
 * - `"over the"`: a phrase, matched as it is written, spaces included;
 * - `line*`: a word that starts with "line" (lines, linear; not outline);
 * - any other run of characters between spaces: a literal substring, punctuation and all.
 * Every term must occur, case-insensitively, in the prompt, the memory or a candidate.
 *
 * A MATCH argument is FTS5 query syntax even when bound as a parameter, so raw text with `-`, `"`,
 * `AND`, `*`, `:` or `(` throws or means something else (spences10/ccrecall#29, dbohdan/tinyfts#2).
 * Every term therefore reaches the trigram index as one quoted FTS5 string (embedded `"` doubled),
 * which matches it as a substring; terms under three characters cannot be trigram-indexed and
 * become LIKE patterns. The index only narrows the candidates: phrases with spaces and prefixes are
 * then checked exactly by the SQL functions registered in `registerSearchFunctions`.
 */
import type Database from 'better-sqlite3';

/** One thing the query asks for. */
export interface SearchTerm {
  kind: 'literal' | 'phrase' | 'prefix';
  text: string;
}

/** SQL pieces for one query: an FTS5 MATCH expression (or null), LIKE patterns with `\` as escape, and exact checks. */
export interface TextFilter {
  match: string | null;
  likePatterns: string[];
  /** Terms the index cannot decide alone: a phrase with spaces (it could span two candidates) or a prefix. */
  exact: SearchTerm[];
}

// NUL ends an FTS5 query string early ("unterminated string"), so it separates terms like a space.
const separator = /[\s\u0000]/u;

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

/** Builds the MATCH expression, LIKE patterns and exact checks that together require every term of `query`. */
export function buildTextFilter(query: string): TextFilter {
  const indexable: string[] = [];
  const likePatterns: string[] = [];
  const exact: SearchTerm[] = [];
  for (const term of parseSearchQuery(query)) {
    // The trigram tokenizer counts Unicode code points; a string under 3 of them matches nothing.
    if (Array.from(term.text).length >= 3) indexable.push(term.text);
    else likePatterns.push(`%${escapeLike(term.text)}%`);
    if (term.kind === 'prefix' || (term.kind === 'phrase' && separator.test(term.text))) exact.push(term);
  }
  return { match: indexable.length > 0 ? indexable.map(quotePhrase).join(' ') : null, likePatterns, exact };
}

/** One FTS5 string: the text inside double quotes, embedded quotes doubled. https://www.sqlite.org/fts5.html#fts5_strings */
export function quotePhrase(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
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
    const before = at === 0 ? '' : Array.from(haystack.slice(Math.max(0, at - 2), at)).at(-1) ?? '';
    if (before === '' || !wordCharacter.test(before)) return true;
  }
  return false;
}

/** SQL names of the exact checks, by term kind. */
export const EXACT_CHECK_FUNCTION = { phrase: 'inkwell_contains', prefix: 'inkwell_word_prefix' } as const;

/** Registers the exact checks on a connection (deterministic functions of their two text arguments). */
export function registerSearchFunctions(db: Database.Database): void {
  db.function(EXACT_CHECK_FUNCTION.phrase, { deterministic: true }, (text: unknown, needle: unknown) =>
    typeof text === 'string' && typeof needle === 'string' && containsText(text, needle) ? 1 : 0,
  );
  db.function(EXACT_CHECK_FUNCTION.prefix, { deterministic: true }, (text: unknown, prefix: unknown) =>
    typeof text === 'string' && typeof prefix === 'string' && hasWordStartingWith(text, prefix) ? 1 : 0,
  );
}
