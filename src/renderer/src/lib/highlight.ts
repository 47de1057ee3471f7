/** Search-term highlighting without HTML strings: text is split into plain and matching segments. */

/** One run of text, marked when it matches a query word. */
export interface Segment {
  text: string;
  match: boolean;
}

/** The query's words, lower-cased, as the back end's literal-word search reads them. */
export function queryWords(query: string): string[] {
  return [...new Set(query.toLowerCase().split(/[\s"*()]+/).filter((w) => w.length > 0))];
}

/** Splits `text` into segments, marking case-insensitive occurrences of any query word. */
export function highlightSegments(text: string, query: string): Segment[] {
  const words = queryWords(query);
  if (words.length === 0 || text.length === 0) return [{ text, match: false }];
  const pattern = new RegExp(words.map(escapeRegExp).sort((a, b) => b.length - a.length).join('|'), 'giu');
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

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
