/**
 * The open document and the documents list. Edits are autosaved (debounced,
 * one save at a time); a document is created on its first edit, so opening
 * the app never leaves empty "Untitled" documents behind.
 *
 * A document the writer has not named takes its first line as its title
 * (autoTitle), shown live as they type; naming it sets the title, and
 * clearing the name hands it back to the first line. Titles and word counts
 * follow src/shared/documents.ts, the rules the back end stores them by.
 */
import { ApiError, type DocumentFull, type DocumentSummary } from '../../../shared/api';
import { countWords, titleFromContent, UNTITLED } from '../../../shared/documents';
import { Autosaver, type SaveState } from '../lib/autosave';
import { filterDocuments, type DocumentSort } from '../lib/document-list';
import { isStorageError, storageNoticeKey } from '../lib/error-notice';
import type { ApiCaller, OpenOutcome, Reporter } from './deps';

/** The fields a save may change; a null title follows the first line again. */
export interface DocumentPatch {
  title: string | null;
  content: string;
  memory: string;
  authorsNote: string;
}

/**
 * One opening of a document. Candidates and accepts belong to a handle; its
 * id is null until the first save creates the document, and is filled in then.
 */
export interface DocumentHandle {
  readonly id: number | null;
}

/** True when `owner` and `current` are the same document (the same opening, or the same saved id). */
export function sameDocument(owner: DocumentHandle, current: DocumentHandle): boolean {
  return owner === current || (owner.id !== null && owner.id === current.id);
}

/** Receives whole-document replacements (open, new, file import). */
export type ContentLoader = (content: string) => void;

/** What DocumentState is built from. */
export interface DocumentDeps {
  api: ApiCaller;
  reporter: Reporter;
  /** A document was deleted (whatever belonged to it can go). */
  onDeleted?: (id: number) => void;
}

/** What an explicit save (Ctrl+S) did. */
export type SaveOutcome = 'saved' | 'nothing' | 'failed';

const autosaveDelayMs = 600;

/** Open document + list. */
export class DocumentState {
  readonly #deps: DocumentDeps;
  #list = $state.raw<DocumentSummary[]>([]);
  #query = $state('');
  #sort = $state<DocumentSort>('updated');
  #shown = $derived(filterDocuments(this.#list, this.#query, this.#sort));
  #handle = $state.raw<{ id: number | null }>({ id: null });
  #id = $state<number | null>(null);
  /** The title the writer chose (used while autoTitle is false). */
  #chosenTitle = $state(UNTITLED);
  #autoTitle = $state(true);
  #text = $state.raw('');
  #title = $derived(this.#autoTitle ? titleFromContent(this.#text) : this.#chosenTitle);
  #memory = $state('');
  #authorsNote = $state('');
  #words = $derived(countWords(this.#text));
  #saveState = $state<SaveState>('saved');
  #saveError = $state<string | null>(null);
  #savedAt = $state<number | null>(null);
  #autosaver: Autosaver<DocumentPatch>;
  /** A read-only or full-disk failure was reported and no save has worked since. */
  #storageProblem = false;
  #loader: ContentLoader | null = null;

  constructor(deps: DocumentDeps) {
    this.#deps = deps;
    this.#autosaver = this.#newAutosaver(this.#handle);
  }

  get list(): DocumentSummary[] {
    return this.#list;
  }
  /** The list as shown: filtered by the search text, in the chosen order. */
  get shown(): DocumentSummary[] {
    return this.#shown;
  }
  get query(): string {
    return this.#query;
  }
  get sort(): DocumentSort {
    return this.#sort;
  }
  /** The opening of the current document (see DocumentHandle). */
  get handle(): DocumentHandle {
    return this.#handle;
  }
  /** Null until the first edit creates the document. */
  get id(): number | null {
    return this.#id;
  }
  /** The title: the writer's, or while they have not named it the first line of the text. */
  get title(): string {
    return this.#title;
  }
  /** True while the title follows the first line. */
  get autoTitle(): boolean {
    return this.#autoTitle;
  }
  get memory(): string {
    return this.#memory;
  }
  get authorsNote(): string {
    return this.#authorsNote;
  }
  /** The editor's current text. */
  get text(): string {
    return this.#text;
  }
  /** Words in the open document. */
  get words(): number {
    return this.#words;
  }
  get saveState(): SaveState {
    return this.#saveState;
  }
  get saveError(): string | null {
    return this.#saveError;
  }
  /** When an explicit save (Ctrl+S) last finished (ms since the epoch); cleared by the next edit. */
  get savedAt(): number | null {
    return this.#savedAt;
  }

  /** Connects the editor: it is handed the current text now and on every document switch. */
  setLoader(loader: ContentLoader | null): void {
    this.#loader = loader;
    loader?.(this.#text);
  }

  /** Filters the list by title. */
  setQuery(query: string): void {
    this.#query = query;
  }

  /** Orders the list. */
  setSort(sort: DocumentSort): void {
    this.#sort = sort;
  }

  /** Loads the list and opens the most recently edited document. */
  async start(): Promise<void> {
    await this.refreshList();
    const latest = this.#list[0];
    if (latest) await this.open(latest.id);
  }

  /** Reloads the documents list, newest first. */
  async refreshList(): Promise<void> {
    try {
      const list = await this.#deps.api.call('documents.list', {});
      this.#list = [...list].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not list documents');
    }
  }

  /** Saves the current document, then opens another. */
  async open(id: number): Promise<OpenOutcome> {
    await this.flush();
    try {
      this.#show(await this.#deps.api.call('documents.get', { id }));
      return 'opened';
    } catch (error) {
      if (ApiError.from(error).kind === 'not_found') {
        this.#deps.reporter.notify('warning', 'That document no longer exists: it was deleted (its history entries are kept).', 'document-missing');
        void this.refreshList();
        return 'missing';
      }
      this.#deps.reporter.reportError(error, 'Could not open the document');
      return 'failed';
    }
  }

  /** Saves the current document and starts a new one (created on first edit, or now when it has content). */
  async create(initial?: { title: string; content: string }): Promise<void> {
    await this.flush();
    if (!initial) {
      this.#show(null);
      return;
    }
    try {
      const doc = await this.#deps.api.call('documents.create', initial);
      this.#show(doc);
      await this.refreshList();
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not create the document');
    }
  }

  /** Deletes a document; if it is the open one, the next one opens. */
  async remove(id: number): Promise<void> {
    if (id === this.#id) this.#autosaver.discard();
    try {
      await this.#deps.api.call('documents.delete', { id });
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not delete the document');
      return;
    }
    this.#deps.onDeleted?.(id);
    await this.refreshList();
    if (id === this.#id) {
      const next = this.#list[0];
      if (next) await this.open(next.id);
      else this.#show(null);
    }
  }

  /** The editor changed. */
  editText(text: string): void {
    if (text === this.#text) return;
    this.#text = text;
    this.#savedAt = null;
    this.#autosaver.schedule({ content: text });
  }

  /** Names the open document; an empty name hands the title back to the first line. */
  rename(title: string): void {
    const clean = title.replace(/\s+/g, ' ').trim().slice(0, 200);
    if (clean === (this.#autoTitle ? '' : this.#chosenTitle)) return;
    this.#autoTitle = clean === '';
    if (clean !== '') this.#chosenTitle = clean;
    this.#savedAt = null;
    this.#autosaver.schedule({ title: clean === '' ? null : clean });
  }

  /** Edits the memory (kept at the start of every prompt). */
  setMemory(memory: string): void {
    this.#memory = memory;
    this.#savedAt = null;
    this.#autosaver.schedule({ memory });
  }

  /** Edits the Author's Note (inserted a few lines before the cursor). */
  setAuthorsNote(note: string): void {
    this.#authorsNote = note;
    this.#savedAt = null;
    this.#autosaver.schedule({ authorsNote: note });
  }

  /** Writes pending edits now. */
  async flush(): Promise<void> {
    await this.#autosaver.flush();
  }

  /** Ctrl+S: writes everything now and remembers when, so the save status can say so. */
  async saveNow(): Promise<SaveOutcome> {
    if (this.#id === null && !this.#autosaver.dirty) return 'nothing';
    await this.flush();
    if (this.#saveState === 'error') return 'failed';
    this.#savedAt = Date.now();
    return 'saved';
  }

  #show(doc: DocumentFull | null): void {
    this.#handle = { id: doc?.id ?? null };
    this.#autosaver = this.#newAutosaver(this.#handle);
    this.#id = doc?.id ?? null;
    this.#autoTitle = doc?.autoTitle ?? true;
    this.#chosenTitle = doc?.title ?? UNTITLED;
    this.#memory = doc?.memory ?? '';
    this.#authorsNote = doc?.authorsNote ?? '';
    this.#text = doc?.content ?? '';
    this.#saveState = 'saved';
    this.#saveError = null;
    this.#savedAt = null;
    this.#loader?.(this.#text);
  }

  /**
   * An autosaver bound to one opening (`target.id` null: created on its first save). A save that failed
   * keeps retrying after another document is opened, so it must go to its own document, not the open one.
   */
  #newAutosaver(target: { id: number | null }): Autosaver<DocumentPatch> {
    const saver: Autosaver<DocumentPatch> = new Autosaver<DocumentPatch>({
      delayMs: autosaveDelayMs,
      save: (patch) => this.#save(target, saver, patch),
      onStateChange: (state, error) => {
        if (this.#autosaver !== saver) return;
        this.#saveState = state;
        this.#saveError = state === 'error' ? ApiError.from(error).message : null;
        this.#noteStorage(state, error);
      },
    });
    return saver;
  }

  /**
   * A save refused because the data is read-only or the disk is full gets one banner (the save
   * status keeps saying it retries); the first save that gets through after it says so.
   */
  #noteStorage(state: SaveState, error: unknown): void {
    if (state === 'error' && isStorageError(error)) {
      if (!this.#storageProblem) this.#deps.reporter.reportError(error, `Could not save “${this.#title}”`);
      this.#storageProblem = true;
    } else if (state === 'saved' && this.#storageProblem) {
      this.#storageProblem = false;
      this.#deps.reporter.notify('info', `“${this.#title}” is saved again.`, storageNoticeKey);
    }
  }

  async #save(target: { id: number | null }, saver: Autosaver<DocumentPatch>, patch: Partial<DocumentPatch>): Promise<void> {
    const api = this.#deps.api;
    if (target.id === null) {
      // Until the first save succeeds every edit is in the patch; what it lacks is still the new document's default.
      const created = await api.call('documents.create', { ...(typeof patch.title === 'string' ? { title: patch.title } : {}), content: patch.content ?? '' });
      target.id = created.id;
      if (this.#autosaver === saver) this.#id = created.id;
      const { title: _t, content: _c, ...rest } = patch;
      if (Object.keys(rest).length > 0) await api.call('documents.save', { id: created.id, ...rest });
    } else {
      await api.call('documents.save', { id: target.id, ...patch });
    }
    void this.refreshList();
  }
}
