/** Hash routes: "#/history" ⇄ the History page. */
import { pages, type PageId } from '../state/app.svelte';

/** The page a location hash names, or null. */
export function pageFromHash(hash: string): PageId | null {
  const id = hash.replace(/^#\/?/, '');
  return pages.find((p) => p.id === id)?.id ?? null;
}
