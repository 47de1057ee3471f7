/**
 * The app's root state: the API, the current page, settings, models, engine
 * status, the connection and notices. It is also the one place where the page
 * states are wired: each gets only the narrow dependencies it declares (see
 * deps.ts), so no state reaches sideways into another. Page states live as
 * long as the window, so a generation keeps streaming while the user looks at
 * History.
 */
import {
  Settings as SettingsSchema,
  type AppInfo,
  type Comparison,
  type EngineStatus,
  type GenerationResult,
  type ModelSummary,
  type ServerEvent,
  type Settings,
} from '../../../shared/api';
import type { ClientApi, ConnectionState } from '../api/client';
import { crashNotice, crashNoticeKey, noticeFor } from '../lib/error-notice';
import { GenerationRouter } from '../lib/generation-router';
import { BatchPageState } from './batch.svelte';
import { CompareState } from './compare.svelte';
import { ContextMeterState } from './context-meter.svelte';
import type { NoticeTone, Reporter } from './deps';
import { DocumentState } from './documents.svelte';
import { HistoryState } from './history.svelte';
import { InspectState } from './inspect.svelte';
import { composePrompt } from '../../../shared/prompt';
import { ModelsState } from './models.svelte';
import { ParamsState } from './params.svelte';
import { RemoteEnginesState, remoteModelAsSummary } from './remote-engines.svelte';
import { TemplateForm } from './template-form.svelte';
import { WriteSession } from './write.svelte';

/** The pages of the left navigation. */
export type PageId = 'write' | 'history' | 'models' | 'inspect' | 'compare' | 'batch' | 'settings';

/** Navigation entries, in order; labels are the accessible names the tests rely on. */
export const pages: readonly { id: PageId; label: string }[] = [
  { id: 'write', label: 'Write' },
  { id: 'history', label: 'History' },
  { id: 'models', label: 'Models' },
  { id: 'inspect', label: 'Inspect' },
  { id: 'compare', label: 'Compare' },
  { id: 'batch', label: 'Batch' },
  { id: 'settings', label: 'Settings' },
];

/** One message in the notices area. */
export interface Notice {
  id: number;
  tone: NoticeTone;
  message: string;
  /** Notices with the same key replace each other instead of piling up. */
  key?: string;
}

/** The last finished generation, for the status bar. */
export interface LastGeneration {
  modelId: string;
  device: string;
  tokensPerSecond: number;
}

/** Root state; create one per window. */
export class AppState implements Reporter {
  readonly api: ClientApi;
  readonly generations: GenerationRouter;
  readonly write: WriteSession;
  readonly history: HistoryState;
  readonly models: ModelsState;
  readonly inspect: InspectState;
  readonly compare: CompareState;
  readonly remote: RemoteEnginesState;
  readonly batch: BatchPageState;

  #page = $state<PageId>('write');
  #visited = $state.raw<readonly PageId[]>(['write']);
  #ready = $state(false);
  #info = $state.raw<AppInfo | null>(null);
  #settings = $state.raw<Settings>(SettingsSchema.parse({}));
  #modelList = $state.raw<ModelSummary[]>([]);
  // Read lazily: `remote` is assigned in the constructor, after the fields.
  #generationModels = $derived.by<ModelSummary[]>(() => [...this.#modelList, ...(this.remote?.models ?? []).map(remoteModelAsSummary)]);
  #engine = $state.raw<EngineStatus | null>(null);
  #connection = $state<ConnectionState>('connected');
  #notices = $state.raw<Notice[]>([]);
  #lastGeneration = $state.raw<LastGeneration | null>(null);
  #historyRevision = $state(0);
  #prefersDark = $state(false);
  #theme = $derived<'light' | 'dark'>(
    this.#settings.theme === 'system' ? (this.#prefersDark ? 'dark' : 'light') : this.#settings.theme,
  );
  #nextNoticeId = 1;
  #unsubscribe: (() => void)[] = [];

  constructor(api: ClientApi) {
    this.api = api;
    this.generations = new GenerationRouter(api);
    const reporter: Reporter = { notify: (tone, message, key) => this.notify(tone, message, key), reportError: (error, context) => this.reportError(error, context) };
    this.remote = new RemoteEnginesState({ api, reporter });
    // The pickers (Write, Compare, History's filter) list local models, then every remote engine's.
    const models = (): readonly ModelSummary[] => this.generationModels;
    const onGenerationDone = (result: GenerationResult): void => this.#noteGeneration(result);
    const onHistoryChanged = (): void => {
      this.#historyRevision += 1;
    };

    const documents = new DocumentState({ api, reporter, onDeleted: (id) => this.write.forgetDocument(id) });
    const params = new ParamsState({
      api,
      models,
      defaultModelId: () => this.#settings.defaultModelId,
      onChooseModel: (id) => void this.updateSettings({ defaultModelId: id }),
      modelDefaults: (id) => this.#settings.modelDefaults[id] ?? {},
    });
    this.write = new WriteSession({
      api,
      generations: this.generations,
      reporter,
      documents,
      params,
      meter: new ContextMeterState({ api, model: () => params.model, maxNewTokens: () => params.values.maxNewTokens }),
      template: new TemplateForm(),
      authorsNoteDepth: () => this.#settings.authorsNoteDepth,
      onGenerationDone,
      onHistoryChanged,
    });
    this.history = new HistoryState({
      api,
      generations: this.generations,
      reporter,
      revision: () => this.#historyRevision,
      nativeFileDialogs: () => this.#info?.nativeFileDialogs ?? false,
      // Write is shown only once the document is open: a deleted one leaves History in view, its card saying so.
      onOpenDocument: async (id) => {
        const outcome = await documents.open(id);
        if (outcome === 'opened') this.showPage('write');
        return outcome;
      },
      onGenerationDone,
    });
    this.models = new ModelsState({
      api,
      reporter,
      onModelsChanged: () => Promise.all([this.refreshModels(), this.refreshStatus()]).then(() => {}),
      nativeFileDialogs: () => this.#info?.nativeFileDialogs ?? false,
      modelDefaults: () => this.#settings.modelDefaults,
      onSaveModelDefaults: (modelDefaults) => this.updateSettings({ modelDefaults }),
    });
    this.inspect = new InspectState({
      api,
      generations: this.generations,
      reporter,
      documentText: () => documents.text,
      sentPrompt: () => {
        const sent = composePrompt({ memory: documents.memory, text: documents.text, authorsNote: documents.authorsNote, depth: this.#settings.authorsNoteDepth });
        return sent.memory + sent.prompt;
      },
      modelId: () => params.model?.id ?? null,
      localModels: () => this.#modelList.map((m) => m.id),
      params: () => params.values,
      show: () => this.showPage('inspect'),
    });
    this.compare = new CompareState({
      api,
      reporter,
      models,
      nativeFileDialogs: () => this.#info?.nativeFileDialogs ?? false,
      sendToDocument: async (target, text, title) => {
        if (target.kind === 'new') {
          await documents.create({ title, content: text });
        } else {
          // The open document's unsaved edits are saved first, so appending cannot overwrite them.
          await documents.flush();
          const doc = await api.call('documents.get', { id: target.id });
          const gap = doc.content === '' || /\s$/.test(doc.content) || /^\s/.test(text) ? '' : ' ';
          await api.call('documents.save', { id: target.id, content: doc.content + gap + text });
          await documents.open(target.id);
        }
        this.showPage('write');
        this.notify('info', target.kind === 'new' ? `The output is in a new document, “${title}”.` : 'The output was added at the end of the document you picked.', 'compare-sent');
      },
    });
    this.batch = new BatchPageState({
      api,
      reporter,
      models,
      defaultModelId: () => this.#settings.defaultModelId,
      dataDir: () => this.#info?.dataDir ?? '',
    });
  }

  /** The page shown. */
  get page(): PageId {
    return this.#page;
  }
  /** Pages opened at least once (they stay mounted, so editor state survives). */
  get visited(): readonly PageId[] {
    return this.#visited;
  }
  /** True once the first load finished. */
  get ready(): boolean {
    return this.#ready;
  }
  get info(): AppInfo | null {
    return this.#info;
  }
  get settings(): Settings {
    return this.#settings;
  }
  get modelList(): ModelSummary[] {
    return this.#modelList;
  }
  /** The local models, then the remote engines' (`remote:<engine>/<model>`): what a generation can run on. */
  get generationModels(): ModelSummary[] {
    return this.#generationModels;
  }
  get engine(): EngineStatus | null {
    return this.#engine;
  }
  /** Whether the back end can be reached (serve mode's WebSocket; the desktop app is always connected). */
  get connection(): ConnectionState {
    return this.#connection;
  }
  get notices(): Notice[] {
    return this.#notices;
  }
  get lastGeneration(): LastGeneration | null {
    return this.#lastGeneration;
  }
  /** Bumped whenever history changed behind the History page's back. */
  get historyRevision(): number {
    return this.#historyRevision;
  }
  /** The theme in effect, after resolving "system". */
  get theme(): 'light' | 'dark' {
    return this.#theme;
  }

  /** Subscribes to server events and loads everything the first screen needs. */
  async start(): Promise<void> {
    this.#unsubscribe.push(this.api.subscribe((event) => this.#onServerEvent(event)));
    if (this.api.onConnectionChange) this.#unsubscribe.push(this.api.onConnectionChange((state) => this.#onConnection(state)));
    const [info, settings, models, status] = await Promise.allSettled([
      this.api.call('app.info', {}),
      this.api.call('settings.get', {}),
      this.api.call('models.list', {}),
      this.api.call('models.status', {}),
    ]);
    if (info.status === 'fulfilled') {
      this.#info = info.value;
      for (const notice of info.value.notices ?? []) this.notify('warning', notice);
    }
    if (settings.status === 'fulfilled') this.#settings = settings.value;
    if (models.status === 'fulfilled') this.#modelList = models.value;
    if (status.status === 'fulfilled') this.#engine = status.value;
    const failed = [info, settings, models, status].find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) this.reportError(failed.reason, 'Could not reach the Inkwell back end');
    this.write.params.loadSettings(this.#settings.generation);
    // Remote engines answer over the network: the first screen does not wait for them.
    void this.remote.load();
    this.#ready = true;
    // A batch may be running already (started from another window or before a reload).
    void this.batch.refresh();
    await this.write.start();
  }

  /** Unsubscribes from server events. */
  stop(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
  }

  /** Shows a saved comparison on the Compare page, or runs it again there. */
  openComparison(entry: Comparison, rerun: boolean): void {
    this.showPage('compare');
    if (rerun) void this.compare.rerun(entry);
    else this.compare.load(entry);
  }

  /** Shows a page. */
  showPage(page: PageId): void {
    this.#page = page;
    if (!this.#visited.includes(page)) this.#visited = [...this.#visited, page];
  }

  /** Follows the OS theme when settings say "system". */
  setPrefersDark(dark: boolean): void {
    this.#prefersDark = dark;
  }

  /** Saves a settings change (optimistically shown at once). */
  async updateSettings(patch: Partial<Settings>): Promise<void> {
    const previous = this.#settings;
    this.#settings = { ...previous, ...patch };
    try {
      this.#settings = await this.api.call('settings.set', patch);
    } catch (error) {
      this.#settings = previous;
      this.reportError(error, 'Could not save settings');
    }
  }

  /** Reloads the model list (after import/remove). */
  async refreshModels(): Promise<void> {
    try {
      this.#modelList = await this.api.call('models.list', {});
    } catch (error) {
      this.reportError(error, 'Could not list models');
    }
  }

  /** Reloads the engine status (devices, loaded models). */
  async refreshStatus(): Promise<void> {
    try {
      this.#engine = await this.api.call('models.status', {});
    } catch (error) {
      this.reportError(error, 'Could not read the engine status');
    }
  }

  /** Adds a notice; a notice with the same key (or the same message) replaces the older one. */
  notify(tone: NoticeTone, message: string, key?: string): void {
    const notice: Notice = { id: this.#nextNoticeId++, tone, message, ...(key ? { key } : {}) };
    const rest = this.#notices.filter((n) => (key ? n.key !== key : true) && n.message !== message);
    this.#notices = [...rest, notice].slice(-5);
  }

  /** Removes a notice. */
  dismiss(id: number): void {
    this.#notices = this.#notices.filter((n) => n.id !== id);
  }

  /** Turns any failure into a notice by its kind (lib/error-notice.ts): one crash banner, one busy warning, one storage banner. */
  reportError(error: unknown, context: string): void {
    const notice = noticeFor(error, context);
    if (notice) this.notify(notice.tone, notice.message, notice.key);
  }

  #noteGeneration(result: GenerationResult): void {
    // A remote engine that failed mid-stream: the text that arrived is kept (and saved), and the writer is told why it ended.
    if (result.warning) this.notify('warning', result.warning);
    this.#lastGeneration = { modelId: result.modelId, device: result.device, tokensPerSecond: result.timings.tokensPerSecond };
    this.#historyRevision += 1;
  }

  #onConnection(state: ConnectionState): void {
    const was = this.#connection;
    this.#connection = state;
    // Back after an outage: the engine may have restarted meanwhile, and history may have grown.
    if (state === 'connected' && was === 'reconnecting') {
      void this.refreshStatus();
      // Task events sent during the outage were missed: the task list is read again.
      void this.models.refresh();
      void this.batch.refresh();
      this.#historyRevision += 1;
    }
  }

  #onServerEvent(event: ServerEvent): void {
    if (event.channel === 'generation') {
      this.generations.dispatch(event.event);
      return;
    }
    if (event.channel === 'task') {
      this.models.onTask(event.task);
      return;
    }
    if (event.channel === 'compare') {
      this.compare.onEvent(event.event);
      return;
    }
    if (event.channel === 'batch') {
      this.batch.onEvent(event.state);
      return;
    }
    const previous = this.#engine?.state;
    this.#engine = event.status;
    if (event.status.state === 'crashed' && previous !== 'crashed') this.notify('error', crashNotice(event.status.message), crashNoticeKey);
  }
}
