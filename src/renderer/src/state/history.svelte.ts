/**
 * The History page: search (debounced, latest query wins), filters, paging,
 * star, delete, export, and re-run.
 *
 * A re-run repeats an entry (same model, prompt, memory, parameters and seed)
 * and shows its candidates under the entry, in History. It never writes into
 * a document: the one open in Write is not the one the entry came from, and
 * where its text goes is the writer's call ("Open its document" is there).
 *
 * The list and the export send the same filters, so an export writes every
 * match, not the page that happens to be loaded; what the filters can mean
 * (search syntax, dates) is the back end's to judge, and its refusal is shown.
 */
import { SvelteMap, SvelteSet } from 'svelte/reactivity';
import { ApiError, type GenerationEvent, type GenerationResult, type HistoryEntry, type MethodRequest } from '../../../shared/api';
import { CandidateSet } from '../lib/candidates';
import { saveTextFile } from '../lib/files';
import { localDayEnd, localDayStart } from '../lib/local-day';
import type { ApiCaller, Generations, OpenOutcome, Reporter } from './deps';

/** The filters besides the search text. */
export interface HistoryFilters {
  modelId: string;
  from: string;
  to: string;
  starredOnly: boolean;
}

/** A re-run of one entry, shown under it. */
export interface Rerun {
  candidates: CandidateSet;
  /** The seed it ran with (the entry's). */
  seed: number;
  /** The history entry the re-run made, once it is done. */
  historyId: number | null;
}

/** The filters of history.list and history.export. */
type FilterRequest = Omit<MethodRequest<'history.export'>, 'format' | 'ids'>;

/** What HistoryState is built from. */
export interface HistoryDeps {
  api: ApiCaller;
  generations: Generations;
  reporter: Reporter;
  /** Bumped whenever history changed elsewhere (a generation, an accept). */
  revision: () => number;
  /** The desktop app saves exports through its own dialog. */
  nativeFileDialogs: () => boolean;
  /** Opens a document in Write. */
  onOpenDocument: (id: number) => Promise<OpenOutcome>;
  /** A re-run finished (for the status bar; History reloads through `revision`). */
  onGenerationDone: (result: GenerationResult) => void;
}

const pageSize = 50;
const searchDebounceMs = 250;

/** History page state. */
export class HistoryState {
  readonly #deps: HistoryDeps;
  #query = $state('');
  #filters = $state.raw<HistoryFilters>({ modelId: '', from: '', to: '', starredOnly: false });
  #entries = $state.raw<HistoryEntry[]>([]);
  #total = $state(0);
  #loading = $state(false);
  #loadedOnce = $state(false);
  #error = $state<string | null>(null);
  readonly #reruns = new SvelteMap<number, Rerun>();
  /** Entry id → the generation of its re-run, while it may still be running. */
  readonly #rerunGenerations = new SvelteMap<number, { generationId: string | null; token: object }>();
  /** Documents found deleted since the entries were loaded (their cards say so). */
  readonly #deletedDocuments = new SvelteSet<number>();
  #loadedRevision = -1;
  #sequence = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(deps: HistoryDeps) {
    this.#deps = deps;
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

  /** True when the entry's document was deleted after the list was loaded. */
  documentDeleted(entry: HistoryEntry): boolean {
    return entry.documentId !== null && this.#deletedDocuments.has(entry.documentId);
  }

  /** The re-run of an entry, if one was started. */
  rerunOf(entryId: number): Rerun | null {
    return this.#reruns.get(entryId) ?? null;
  }

  /** Reloads when history changed since the last load (called when the page is shown). */
  refreshIfStale(): void {
    if (this.#loadedRevision !== this.#deps.revision()) void this.load();
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
      const updated = await this.#deps.api.call('history.star', { id: entry.id, starred });
      this.#replace(updated);
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not star the entry');
    }
  }

  /** Deletes an entry (the page asks for confirmation first). */
  async remove(entry: HistoryEntry): Promise<void> {
    try {
      await this.#deps.api.call('history.delete', { id: entry.id });
      this.#entries = this.#entries.filter((e) => e.id !== entry.id);
      this.#total = Math.max(0, this.#total - 1);
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not delete the entry');
    }
  }

  /** Re-runs an entry with its own model, prompt, memory, parameters and seed; the candidates appear under it. */
  async rerun(entry: HistoryEntry): Promise<void> {
    await this.stopRerun(entry.id);
    const token = {};
    const tracked = { generationId: null as string | null, token };
    this.#rerunGenerations.set(entry.id, tracked);
    this.#setRerun(entry.id, { candidates: CandidateSet.waiting(entry.params.numReturnSequences), seed: entry.seed, historyId: null });
    try {
      tracked.generationId = await this.#deps.generations.start(
        {
          modelId: entry.modelId,
          prompt: entry.prompt,
          memory: entry.memory,
          params: { ...entry.params, seed: entry.seed },
          documentId: entry.documentId,
        },
        (event) => this.#onRerunEvent(entry.id, token, event),
      );
    } catch (error) {
      if (this.#rerunGenerations.get(entry.id)?.token !== token) return;
      this.#rerunGenerations.delete(entry.id);
      this.#updateRerun(entry.id, (rerun) => ({ ...rerun, candidates: rerun.candidates.failed(ApiError.from(error).message) }));
      this.#deps.reporter.reportError(error, 'Could not re-run the entry');
    }
  }

  /** Stops an entry's re-run (what streamed so far stays). */
  async stopRerun(entryId: number): Promise<void> {
    const tracked = this.#rerunGenerations.get(entryId);
    if (!tracked?.generationId) return;
    try {
      await this.#deps.generations.cancel(tracked.generationId);
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not stop the re-run');
    }
  }

  /** Hides an entry's re-run results. */
  dismissRerun(entryId: number): void {
    void this.stopRerun(entryId);
    this.#rerunGenerations.delete(entryId);
    this.#reruns.delete(entryId);
  }

  /** Opens the document an entry was written in; a document deleted since is marked on its entries. */
  async openDocument(entry: HistoryEntry): Promise<void> {
    const id = entry.documentId;
    if (id === null || this.#deletedDocuments.has(id)) return;
    if ((await this.#deps.onOpenDocument(id)) === 'missing') this.#deletedDocuments.add(id);
  }

  /** Exports every entry the search and filters match (all of them, not the loaded page) as JSON or Markdown. */
  async exportMatches(format: 'json' | 'markdown'): Promise<void> {
    try {
      const file = await this.#deps.api.call('history.export', { format, ...this.#filterRequest() });
      await saveTextFile(this.#deps.api, this.#deps.nativeFileDialogs(), { name: file.filename, content: file.content, mimeType: file.mimeType });
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not export history');
    }
  }

  #onRerunEvent(entryId: number, token: object, event: GenerationEvent): void {
    if (this.#rerunGenerations.get(entryId)?.token !== token) return;
    switch (event.type) {
      case 'started':
        this.#updateRerun(entryId, (rerun) => ({ ...rerun, candidates: rerun.candidates.started(event.numSequences) }));
        return;
      case 'delta':
        this.#updateRerun(entryId, (rerun) => ({ ...rerun, candidates: rerun.candidates.withDelta(event.sequence, event.text) }));
        return;
      case 'done':
        this.#rerunGenerations.delete(entryId);
        this.#updateRerun(entryId, (rerun) => ({ ...rerun, candidates: rerun.candidates.finished(event.result), historyId: event.result.historyId }));
        this.#deps.onGenerationDone(event.result);
        return;
      case 'error':
        this.#rerunGenerations.delete(entryId);
        this.#updateRerun(entryId, (rerun) => ({
          ...rerun,
          candidates: event.error.kind === 'cancelled' ? rerun.candidates.stopped() : rerun.candidates.failed(event.error.message),
        }));
        if (event.error.kind !== 'cancelled') this.#deps.reporter.reportError(ApiError.from(event.error), 'The re-run failed');
    }
  }

  #setRerun(entryId: number, rerun: Rerun): void {
    this.#reruns.set(entryId, rerun);
  }

  #updateRerun(entryId: number, change: (rerun: Rerun) => Rerun): void {
    const current = this.#reruns.get(entryId);
    if (current) this.#setRerun(entryId, change(current));
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
    const revision = this.#deps.revision();
    const { from, to } = this.#filters;
    if (from && to && from > to) {
      // An empty list would look like "nothing matches"; the dates are what is wrong (the back end refuses them too).
      this.#error = 'the From date is later than the To date, so nothing can match';
      this.#entries = [];
      this.#total = 0;
      this.#loading = false;
      return;
    }
    this.#loading = true;
    try {
      const page = await this.#deps.api.call('history.list', { ...this.#filterRequest(), limit: pageSize, offset });
      if (sequence !== this.#sequence) return;
      if (offset === 0) this.#deletedDocuments.clear();
      this.#entries = offset === 0 ? page.entries : [...this.#entries, ...page.entries];
      this.#total = page.total;
      this.#error = null;
      this.#loadedOnce = true;
      this.#loadedRevision = revision;
    } catch (error) {
      if (sequence !== this.#sequence) return;
      // The back end's reason why nothing can be listed; an empty list would hide it.
      this.#error = ApiError.from(error).message;
      if (offset === 0) {
        this.#entries = [];
        this.#total = 0;
      }
    } finally {
      if (sequence === this.#sequence) this.#loading = false;
    }
  }

  /** The search text and filters as both history.list and history.export take them (dates as local days). */
  #filterRequest(): FilterRequest {
    const { modelId, from, to, starredOnly } = this.#filters;
    return {
      query: this.#query,
      starredOnly,
      ...(modelId ? { modelId } : {}),
      ...(from ? { from: localDayStart(from) } : {}),
      ...(to ? { to: localDayEnd(to) } : {}),
    };
  }

  #replace(entry: HistoryEntry): void {
    this.#entries = this.#entries.map((e) => (e.id === entry.id ? entry : e));
  }
}
