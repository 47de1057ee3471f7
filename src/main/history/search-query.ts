/**
 * Turns free text from the search box into SQL conditions that treat every character literally.
 *
 * A MATCH argument is FTS5 query syntax even when bound as a parameter, so raw text with `-`, `"`,
 * `AND`, `*`, `:` or `(` throws or means something else (spences10/ccrecall#29, dbohdan/tinyfts#2).
 * The query is split on whitespace; each word must occur, as a case-insensitive substring, in the
 * prompt or in a candidate. Words of three or more characters go to the trigram index as quoted
 * phrases (embedded `"` doubled); shorter ones cannot be trigram-indexed and become LIKE patterns.
 */

/** SQL pieces for one query: an FTS5 MATCH expression (or null) and LIKE patterns with `\` as escape. */
export interface TextFilter {
  match: string | null;
  likePatterns: string[];
}

// NUL ends an FTS5 query string early ("unterminated string"), so it separates words like a space.
const wordSeparators = /[\s\u0000]+/u;

/** The distinct literal words of a query, in order; empty for an empty or all-whitespace query. */
export function literalWords(query: string): string[] {
  const words = query.split(wordSeparators).filter((word) => word.length > 0);
  return [...new Set(words)];
}

/** Builds the MATCH expression and LIKE patterns that together require every word of `query`. */
export function buildTextFilter(query: string): TextFilter {
  const indexable: string[] = [];
  const short: string[] = [];
  for (const word of literalWords(query)) {
    // The trigram tokenizer counts Unicode code points; a phrase under 3 of them matches nothing.
    (Array.from(word).length >= 3 ? indexable : short).push(word);
  }
  return {
    match: indexable.length > 0 ? indexable.map(quotePhrase).join(' ') : null,
    likePatterns: short.map((word) => `%${escapeLike(word)}%`),
  };
}

/** One FTS5 string: the word inside double quotes, embedded quotes doubled. https://www.sqlite.org/fts5.html#fts5_strings */
export function quotePhrase(word: string): string {
  return `"${word.replaceAll('"', '""')}"`;
}

function escapeLike(word: string): string {
  return word.replace(/[\\%_]/g, (char) => `\\${char}`);
}
