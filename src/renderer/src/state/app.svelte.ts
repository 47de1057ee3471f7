/**
 * The app's root state: the API, the current page, settings, models, engine
 * status, the connection and notices. It is also the one place where the page
 * states are wired: each gets only the narrow dependencies it declares (see
 * deps.ts), so no state reaches sideways into another. Page states live as
 * long as the window, so a generation keeps streaming while the user looks at
 * History.
 */
import {
  ApiError,
  Settings as SettingsSchema,
  type AppInfo,
  type EngineStatus,
  type GenerationResult,
  type ModelSummary,
  type ServerEvent,
  type Settings,
} from '../../../shared/api';
import type { ClientApi, ConnectionState } from '../api/client';
import { GenerationRouter } from '../lib/generation-router';
import { BatchPageState } from './batch.svelte';
import { CompareState } from './compare.svelte';
import { ContextMeterState } from './context-meter.svelte';
import type { NoticeTone, Reporter } from './deps';
import { DocumentState } from './documents.svelte';
import { HistoryState } from './history.svelte';
import { InspectState } from './inspect.svelte';
import { ModelsState } from './models.svelte';
import { ParamsState } from './params.svelte';
import { TemplateForm } from './template-form.svelte';
import { WriteSession } from './write.svelte';

/** The pages of the left navigation. */
export type PageId = 'write' | 'history' | 'models' | 'inspect' | 'compare' | 'batch';

/** Navigation entries, in order; labels are the accessible names the tests rely on. */
export const pages: readonly { id: PageId; label: string }[] = [
  { id: 'write', label: 'Write' },
  { id: 'history', label: 'History' },
  { id: 'models', label: 'Models' },
  { id: 'inspect', label: 'Inspect' },
  { id: 'compare', label: 'Compare' },
  { id: 'batch', label: 'Batch' },
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

/** The message shown when the inference process dies and the back end gave no reason. */
export const engineCrashMessage = 'The inference process stopped; it restarts on the next request.';

/**
 * The crash notice: the back end's own account when it sent one (it already
 * says what happened and that the next request restarts the process), else the
 * generic message; never both, which said the same thing twice.
 */
export function crashNotice(detail: string | undefined): string {
  const text = detail?.trim();
  if (!text) return engineCrashMessage;
  const sentence = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
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
  readonly batch: BatchPageState;

  #page = $state<PageId>('write');
  #visited = $state.raw<readonly PageId[]>(['write']);
  #ready = $state(false);
  #info = $state.raw<AppInfo | null>(null);
  #settings = $state.raw<Settings>(SettingsSchema.parse({}));
  #modelList = $state.raw<ModelSummary[]>([]);
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
    const models = (): readonly ModelSummary[] => this.#modelList;
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
      onOpenDocument: (id) => {
        this.showPage('write');
        void documents.open(id);
      },
      onGenerationDone,
    });
    this.models = new ModelsState({ api, reporter, onModelsChanged: () => Promise.all([this.refreshModels(), this.refreshStatus()]).then(() => {}) });
    this.inspect = new InspectState({ api, documentText: () => documents.text });
    this.compare = new CompareState({ generations: this.generations, reporter, models, onGenerationDone });
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
    this.#ready = true;
    // A batch may be running already (started from another window or before a reload).
    void this.batch.refresh();
    await this.write.start();
  }

  /** Unsubscribes from server events. */
  stop(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
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

  /** Turns any failure into a notice; an inference crash gets its own, single notice. */
  reportError(error: unknown, context: string): void {
    const apiError = ApiError.from(error);
    if (apiError.kind === 'engine_crashed') {
      this.notify('error', crashNotice(apiError.message), 'engine-crash');
      return;
    }
    if (apiError.kind === 'cancelled') return;
    this.notify('error', `${context}: ${apiError.message}`);
  }

  #noteGeneration(result: GenerationResult): void {
    this.#lastGeneration = { modelId: result.modelId, device: result.device, tokensPerSecond: result.timings.tokensPerSecond };
    this.#historyRevision += 1;
  }

  #onConnection(state: ConnectionState): void {
    const was = this.#connection;
    this.#connection = state;
    // Back after an outage: the engine may have restarted meanwhile, and history may have grown.
    if (state === 'connected' && was === 'reconnecting') {
      void this.refreshStatus();
      void this.batch.refresh();
      this.#historyRevision += 1;
    }
  }

  #onServerEvent(event: ServerEvent): void {
    if (event.channel === 'generation') {
      this.generations.dispatch(event.event);
      return;
    }
    if (event.channel === 'batch') {
      this.batch.onEvent(event.state);
      return;
    }
    const previous = this.#engine?.state;
    this.#engine = event.status;
    if (event.status.state === 'crashed' && previous !== 'crashed') this.notify('error', crashNotice(event.status.message), 'engine-crash');
  }
}
