/** The Documents list as the writer asks to see it: filtered by title, in a chosen order. */
import type { DocumentSummary } from '../../../shared/api';

/** Orders the list offers. */
export type DocumentSort = 'updated' | 'created' | 'title' | 'words';

/** The orders with their labels (the names the sort field shows). */
export const documentSorts: readonly { id: DocumentSort; label: string }[] = [
  { id: 'updated', label: 'Last edited' },
  { id: 'created', label: 'Created' },
  { id: 'title', label: 'Title' },
  { id: 'words', label: 'Longest first' },
];

/** Lower case without accents, so "cafe" finds "Café". */
function fold(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLocaleLowerCase();
}

const byTitle = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** The documents whose title contains every word of `query`, in `sort` order (newest first for the dates, most words first by length). */
export function filterDocuments(list: readonly DocumentSummary[], query: string, sort: DocumentSort): DocumentSummary[] {
  const words = fold(query).split(/\s+/).filter(Boolean);
  const shown = list.filter((doc) => {
    const title = fold(doc.title);
    return words.every((word) => title.includes(word));
  });
  switch (sort) {
    case 'title':
      return shown.sort((a, b) => byTitle.compare(a.title, b.title) || b.updatedAt.localeCompare(a.updatedAt));
    case 'words':
      return shown.sort((a, b) => b.words - a.words || b.updatedAt.localeCompare(a.updatedAt));
    case 'created':
      return shown.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    default:
      return shown.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  }
}
