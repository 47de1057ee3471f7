import { describe, expect, it } from 'vitest';
import type { DocumentSummary } from '../../../src/shared/api';
import { filterDocuments } from '../../../src/renderer/src/lib/document-list';

const doc = (id: number, title: string, createdAt: string, updatedAt: string, words = 0): DocumentSummary => ({ id, title, createdAt, updatedAt, chars: 0, autoTitle: false, words });

describe('filterDocuments', () => {
  const list = [
    doc(1, 'Beta', '2026-01-01T00:00:00Z', '2026-01-05T00:00:00Z'),
    doc(2, 'alpha draft', '2026-01-03T00:00:00Z', '2026-01-04T00:00:00Z'),
    doc(3, 'Álpha notes', '2026-01-02T00:00:00Z', '2026-01-06T00:00:00Z'),
  ];

  it('keeps titles holding every word, ignoring case and accents, and leaves the input alone', () => {
    expect(filterDocuments(list, 'ALPHA', 'updated').map((d) => d.id)).toEqual([3, 2]);
    expect(filterDocuments(list, 'alpha notes', 'updated').map((d) => d.id)).toEqual([3]);
    expect(list.map((d) => d.id)).toEqual([1, 2, 3]);
  });

  it('sorts by last edit, by creation (newest first) or by title', () => {
    expect(filterDocuments(list, '', 'updated').map((d) => d.id)).toEqual([3, 1, 2]);
    expect(filterDocuments(list, '', 'created').map((d) => d.id)).toEqual([2, 3, 1]);
    expect(filterDocuments(list, '', 'title').map((d) => d.title)).toEqual(['alpha draft', 'Álpha notes', 'Beta']);
  });

  it('sorts the longest first, the last edited first among equals', () => {
    const sized = [doc(1, 'a', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 10), doc(2, 'b', '2026-01-01T00:00:00Z', '2026-01-03T00:00:00Z', 300), doc(3, 'c', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', 10)];
    expect(filterDocuments(sized, '', 'words').map((d) => d.id)).toEqual([2, 3, 1]);
  });
});
