/**
 * The open document and the documents list. Edits are autosaved (debounced,
 * one save at a time); a document is created on its first edit, so opening
 * the app never leaves empty "Untitled" documents behind.
 */
import type { DocumentFull, DocumentSummary } from '../../../shared/api';
import { Autosaver, type SaveState } from '../lib/autosave';
import type { AppState } from './app.svelte';

/** The fields a save may change. */
export interface DocumentPatch {
  title: string;
  content: string;
  memory: string;
  authorsNote: string;
}

/** Receives whole-document replacements (open, new, file import). */
export type ContentLoader = (content: string) => void;

const autosaveDelayMs = 600;

/** Open document + list. */
export class DocumentState {
  readonly #app: AppState;
  #list = $state.raw<DocumentSummary[]>([]);
  #id = $state<number | null>(null);
  #title = $state('Untitled');
  #memory = $state('');
  #authorsNote = $state('');
  #text = $state.raw('');
  #saveState = $state<SaveState>('saved');
  #saveError = $state<string | null>(null);
  #autosaver: Autosaver<DocumentPatch>;
  #loader: ContentLoader | null = null;

  constructor(app: AppState) {
    this.#app = app;
    this.#autosaver = this.#newAutosaver(null);
  }

  get list(): DocumentSummary[] {
    return this.#list;
  }
  /** Null until the first edit creates the document. */
  get id(): number | null {
    return this.#id;
  }
  get title(): string {
    return this.#title;
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
  get saveState(): SaveState {
    return this.#saveState;
  }
  get saveError(): string | null {
    return this.#saveError;
  }

  /** Connects the editor: it is handed the current text now and on every document switch. */
  setLoader(loader: ContentLoader | null): void {
    this.#loader = loader;
    loader?.(this.#text);
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
      const list = await this.#app.api.call('documents.list', {});
      this.#list = [...list].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
    } catch (error) {
      this.#app.reportError(error, 'Could not list documents');
    }
  }

  /** Saves the current document, then opens another. */
  async open(id: number): Promise<void> {
    await this.flush();
    try {
      this.#show(await this.#app.api.call('documents.get', { id }));
    } catch (error) {
      this.#app.reportError(error, 'Could not open the document');
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
      const doc = await this.#app.api.call('documents.create', initial);
      this.#show(doc);
      await this.refreshList();
    } catch (error) {
      this.#app.reportError(error, 'Could not create the document');
    }
  }

  /** Deletes a document; if it is the open one, the next one opens. */
  async remove(id: number): Promise<void> {
    if (id === this.#id) this.#autosaver.discard();
    try {
      await this.#app.api.call('documents.delete', { id });
    } catch (error) {
      this.#app.reportError(error, 'Could not delete the document');
      return;
    }
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
    this.#autosaver.schedule({ content: text });
  }

  /** Renames the open document (an empty title means "Untitled"). */
  rename(title: string): void {
    const clean = title.replace(/\s+/g, ' ').trim().slice(0, 200) || 'Untitled';
    this.#title = clean;
    this.#autosaver.schedule({ title: clean });
  }

  /** Edits the memory (kept at the start of every prompt). */
  setMemory(memory: string): void {
    this.#memory = memory;
    this.#autosaver.schedule({ memory });
  }

  /** Edits the Author's Note (inserted a few lines before the cursor). */
  setAuthorsNote(note: string): void {
    this.#authorsNote = note;
    this.#autosaver.schedule({ authorsNote: note });
  }

  /** Writes pending edits now. */
  async flush(): Promise<void> {
    await this.#autosaver.flush();
  }

  #show(doc: DocumentFull | null): void {
    this.#autosaver = this.#newAutosaver(doc?.id ?? null);
    this.#id = doc?.id ?? null;
    this.#title = doc?.title ?? 'Untitled';
    this.#memory = doc?.memory ?? '';
    this.#authorsNote = doc?.authorsNote ?? '';
    this.#text = doc?.content ?? '';
    this.#saveState = 'saved';
    this.#saveError = null;
    this.#loader?.(this.#text);
  }

  /**
   * An autosaver bound to one document (`id` null: created on its first save). A save that failed
   * keeps retrying after another document is opened, so it must go to its own document, not the open one.
   */
  #newAutosaver(id: number | null): Autosaver<DocumentPatch> {
    const target = { id };
    const saver: Autosaver<DocumentPatch> = new Autosaver<DocumentPatch>({
      delayMs: autosaveDelayMs,
      save: (patch) => this.#save(target, saver, patch),
      onStateChange: (state, error) => {
        if (this.#autosaver !== saver) return;
        this.#saveState = state;
        this.#saveError = state === 'error' ? errorMessage(error) : null;
      },
    });
    return saver;
  }

  async #save(target: { id: number | null }, saver: Autosaver<DocumentPatch>, patch: Partial<DocumentPatch>): Promise<void> {
    const api = this.#app.api;
    if (target.id === null) {
      // Until the first save succeeds every edit is in the patch; what it lacks is still the new document's default.
      const created = await api.call('documents.create', { title: patch.title ?? 'Untitled', content: patch.content ?? '' });
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

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
