/**
 * The History page: search (debounced, latest query wins), filters, paging,
 * star, delete, re-run and export.
 */
import type { HistoryEntry } from '../../../shared/api';
import { saveTextFile } from '../lib/files';
import { localDayEnd, localDayStart } from '../lib/local-day';
import type { AppState } from './app.svelte';

/** The filters besides the search text. */
export interface HistoryFilters {
  modelId: string;
  from: string;
  to: string;
  starredOnly: boolean;
}

const pageSize = 50;
const searchDebounceMs = 250;

/** History page state. */
export class HistoryState {
  readonly #app: AppState;
  #query = $state('');
  #filters = $state.raw<HistoryFilters>({ modelId: '', from: '', to: '', starredOnly: false });
  #entries = $state.raw<HistoryEntry[]>([]);
  #total = $state(0);
  #loading = $state(false);
  #loadedOnce = $state(false);
  #error = $state<string | null>(null);
  #loadedRevision = -1;
  #sequence = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(app: AppState) {
    this.#app = app;
  }

  get query(): string {
    return this.#query;
  }
  get filters(): HistoryFilters {
    return this.#filters;
  }
  get entries(): HistoryEntry[] {
    return this.#entries;
  }
  get total(): number {
    return this.#total;
  }
  get loading(): boolean {
    return this.#loading;
  }
  /** True after the first answer (to tell "no results" from "not loaded yet"). */
  get loadedOnce(): boolean {
    return this.#loadedOnce;
  }
  get error(): string | null {
    return this.#error;
  }
  get hasMore(): boolean {
    return this.#entries.length < this.#total;
  }

  /** Reloads when history changed since the last load (called when the page is shown). */
  refreshIfStale(): void {
    if (this.#loadedRevision !== this.#app.historyRevision) void this.load();
  }

  /** Types in the search box (searches after a short pause). */
  setQuery(query: string): void {
    this.#query = query;
    this.#debounce();
  }

  /** Changes a filter (searches at once). */
  setFilters(patch: Partial<HistoryFilters>): void {
    this.#filters = { ...this.#filters, ...patch };
    void this.load();
  }

  /** Loads the first page for the current query and filters. */
  async load(): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#fetch(0);
  }

  /** Appends the next page. */
  async loadMore(): Promise<void> {
    await this.#fetch(this.#entries.length);
  }

  /** Stars or unstars an entry. */
  async star(entry: HistoryEntry, starred: boolean): Promise<void> {
    try {
      const updated = await this.#app.api.call('history.star', { id: entry.id, starred });
      this.#replace(updated);
    } catch (error) {
      this.#app.reportError(error, 'Could not star the entry');
    }
  }

  /** Deletes an entry (the page asks for confirmation first). */
  async remove(entry: HistoryEntry): Promise<void> {
    try {
      await this.#app.api.call('history.delete', { id: entry.id });
      this.#entries = this.#entries.filter((e) => e.id !== entry.id);
      this.#total = Math.max(0, this.#total - 1);
    } catch (error) {
      this.#app.reportError(error, 'Could not delete the entry');
    }
  }

  /** Opens Write with the entry's prompt, model and parameters and starts generating. */
  async rerun(entry: HistoryEntry): Promise<void> {
    this.#app.showPage('write');
    await this.#app.write.rerun(entry);
  }

  /** Exports the entries shown (or all, when nothing is filtered) as JSON or Markdown. */
  async exportShown(format: 'json' | 'markdown'): Promise<void> {
    const filtered = this.#query.trim() !== '' || this.#filters.modelId !== '' || this.#filters.from !== '' || this.#filters.to !== '' || this.#filters.starredOnly;
    try {
      const file = await this.#app.api.call('history.export', filtered ? { format, ids: this.#entries.map((e) => e.id) } : { format });
      await saveTextFile(this.#app.api, this.#app.info?.nativeFileDialogs ?? false, { name: file.filename, content: file.content, mimeType: file.mimeType });
    } catch (error) {
      this.#app.reportError(error, 'Could not export history');
    }
  }

  #debounce(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#fetch(0);
    }, searchDebounceMs);
  }

  async #fetch(offset: number): Promise<void> {
    const sequence = ++this.#sequence;
    const revision = this.#app.historyRevision;
    const { modelId, from, to, starredOnly } = this.#filters;
    this.#loading = true;
    try {
      const page = await this.#app.api.call('history.list', {
        query: this.#query,
        starredOnly,
        limit: pageSize,
        offset,
        ...(modelId ? { modelId } : {}),
        ...(from ? { from: localDayStart(from) } : {}),
        ...(to ? { to: localDayEnd(to) } : {}),
      });
      if (sequence !== this.#sequence) return;
      this.#entries = offset === 0 ? page.entries : [...this.#entries, ...page.entries];
      this.#total = page.total;
      this.#error = null;
      this.#loadedOnce = true;
      this.#loadedRevision = revision;
    } catch (error) {
      if (sequence !== this.#sequence) return;
      this.#error = error instanceof Error ? error.message : String(error);
    } finally {
      if (sequence === this.#sequence) this.#loading = false;
    }
  }

  #replace(entry: HistoryEntry): void {
    this.#entries = this.#entries.map((e) => (e.id === entry.id ? entry : e));
  }
}
