/**
 * Turns what a writer types into the search box (the syntax of src/shared/search-syntax.ts:
 * "phrases", word* prefixes, literal text otherwise) into SQL conditions.
 *
 * A MATCH argument is FTS5 query syntax even when bound as a parameter, so raw text with `-`, `"`,
 * `AND`, `*`, `:` or `(` throws or means something else (spences10/ccrecall#29, dbohdan/tinyfts#2).
 * Every term therefore reaches the trigram index as one quoted FTS5 string (embedded `"` doubled),
 * which matches it as a substring; terms under three characters cannot be trigram-indexed and
 * become LIKE patterns. The index only narrows the candidates: phrases with spaces and prefixes are
 * then checked exactly by the SQL functions registered in `registerSearchFunctions`.
 */
import type Database from 'better-sqlite3';
import { containsText, hasWordStartingWith, isSearchSeparator, parseSearchQuery, type SearchTerm } from '../../shared/search-syntax';

export { hasWordStartingWith, parseSearchQuery, type SearchTerm } from '../../shared/search-syntax';

/** SQL pieces for one query: an FTS5 MATCH expression (or null), LIKE patterns with `\` as escape, and exact checks. */
export interface TextFilter {
  match: string | null;
  likePatterns: string[];
  /** Terms the index cannot decide alone: a phrase with spaces (it could span two candidates) or a prefix. */
  exact: SearchTerm[];
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
    if (term.kind === 'prefix' || (term.kind === 'phrase' && Array.from(term.text).some(isSearchSeparator))) exact.push(term);
  }
  return { match: indexable.length > 0 ? indexable.map(quotePhrase).join(' ') : null, likePatterns, exact };
}

/** Where a search runs: its full-text table, the id column its rowids match, and the text columns it reads. */
export interface SearchTarget {
  ftsTable: string;
  idColumn: string;
  /** The SQL that is true when `test` holds for any of the target's text columns, and how many `?` it uses. */
  anyText: (test: (column: string) => string) => { sql: string; params: number };
}

/**
 * The WHERE conditions (and their parameters) of a search query over `target`: the index match,
 * then LIKE for terms too short for the trigram index, then the exact checks the index cannot decide.
 */
export function searchConditions(query: string, target: SearchTarget): { conditions: string[]; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const anyText = (test: (column: string) => string, value: unknown): void => {
    const { sql, params: uses } = target.anyText(test);
    conditions.push(sql);
    for (let i = 0; i < uses; i++) params.push(value);
  };
  const text = buildTextFilter(query);
  if (text.match !== null) {
    conditions.push(`${target.idColumn} IN (SELECT rowid FROM ${target.ftsTable} WHERE ${target.ftsTable} MATCH ?)`);
    params.push(text.match);
  }
  for (const pattern of text.likePatterns) anyText((column) => `${column} LIKE ? ESCAPE '\\'`, pattern);
  for (const term of text.exact) {
    const check = term.kind === 'prefix' ? EXACT_CHECK_FUNCTION.prefix : EXACT_CHECK_FUNCTION.phrase;
    anyText((column) => `${check}(${column}, ?)`, term.text);
  }
  return { conditions, params };
}

/** One FTS5 string: the text inside double quotes, embedded quotes doubled. https://www.sqlite.org/fts5.html#fts5_strings */
export function quotePhrase(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
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
