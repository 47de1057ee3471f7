/** The Documents list as the writer asks to see it: filtered by title, in a chosen order, and word counts. */
import type { DocumentSummary } from '../../../shared/api';

/** Orders the list offers. */
export type DocumentSort = 'updated' | 'created' | 'title';

/** The orders with their labels (the names the sort field shows). */
export const documentSorts: readonly { id: DocumentSort; label: string }[] = [
  { id: 'updated', label: 'Last edited' },
  { id: 'created', label: 'Created' },
  { id: 'title', label: 'Title' },
];

/** Lower case without accents, so "cafe" finds "Café". */
function fold(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLocaleLowerCase();
}

const byTitle = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** The documents whose title contains every word of `query`, in `sort` order (newest first for the dates). */
export function filterDocuments(list: readonly DocumentSummary[], query: string, sort: DocumentSort): DocumentSummary[] {
  const words = fold(query).split(/\s+/).filter(Boolean);
  const shown = list.filter((doc) => {
    const title = fold(doc.title);
    return words.every((word) => title.includes(word));
  });
  switch (sort) {
    case 'title':
      return shown.sort((a, b) => byTitle.compare(a.title, b.title) || b.updatedAt.localeCompare(a.updatedAt));
    case 'created':
      return shown.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    default:
      return shown.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  }
}

/** Words as a writer counts them: runs of characters between white space. */
export function countWords(text: string): number {
  let count = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    // ASCII white space and the Unicode spaces a pasted text brings (no-break, thin, ideographic).
    const space = code <= 32 || code === 0xa0 || code === 0x1680 || (code >= 0x2000 && code <= 0x200a) || code === 0x2028 || code === 0x2029 || code === 0x202f || code === 0x205f || code === 0x3000;
    if (space) inWord = false;
    else if (!inWord) {
      inWord = true;
      count += 1;
    }
  }
  return count;
}
