/**
 * The Models page: the catalog and free-text Hub repositories, the local Hugging Face cache, folder
 * import, stored models with their variants (convert, delete), what is loaded (load with an
 * estimate first, unload), and the background tasks' progress as the `task` channel reports it.
 */
import { ApiError, ModelId, type ModelSummary, type Settings } from '../../../shared/api';
import type { PrecisionRequest, VariantPrecision } from '../../../shared/devices';
import type { CatalogView, HfCacheView, LoadEstimate, ModelDefaultParams, ModelsOverview, TaskRequestInput, TaskState } from '../../../shared/models';
import type { ApiCaller, Reporter } from './deps';

/** What ModelsState is built from. */
export interface ModelsDeps {
  api: ApiCaller;
  reporter: Reporter;
  /** Reloads the model list and the engine status after an import or a removal. */
  onModelsChanged: () => Promise<void>;
  /** Whether the back end has native dialogs (the desktop app's folder picker). */
  nativeFileDialogs: () => boolean;
  /** Per-model default parameters as settings hold them, and how to save them. */
  modelDefaults: () => Settings['modelDefaults'];
  onSaveModelDefaults: (defaults: Settings['modelDefaults']) => Promise<void>;
}

/** Models page state. */
export class ModelsState {
  readonly #deps: ModelsDeps;
  #path = $state('');
  #id = $state('');
  #repo = $state('');
  #importError = $state<string | null>(null);
  #removing = $state<string | null>(null);
  #catalog = $state.raw<CatalogView | null>(null);
  #cache = $state.raw<HfCacheView | null>(null);
  #overview = $state.raw<ModelsOverview | null>(null);
  #tasks = $state.raw<TaskState[]>([]);
  #estimates = $state.raw<Record<string, LoadEstimate>>({});
  #loadPrecision = $state<Record<string, PrecisionRequest>>({});
  #idProblem = $derived(this.#id.trim() === '' ? null : idProblem(this.#id.trim()));

  constructor(deps: ModelsDeps) {
    this.#deps = deps;
  }

  get path(): string {
    return this.#path;
  }
  get id(): string {
    return this.#id;
  }
  /** The owner/name typed into the free-text pull field. */
  get repo(): string {
    return this.#repo;
  }
  get importError(): string | null {
    return this.#importError;
  }
  /** Id of the model being removed. */
  get removing(): string | null {
    return this.#removing;
  }
  /** Why the typed id is not usable, or null. */
  get idProblem(): string | null {
    return this.#idProblem;
  }
  get catalog(): CatalogView | null {
    return this.#catalog;
  }
  get cache(): HfCacheView | null {
    return this.#cache;
  }
  get overview(): ModelsOverview | null {
    return this.#overview;
  }
  /** Tasks, newest first. */
  get tasks(): TaskState[] {
    return this.#tasks;
  }
  /** Whether the desktop app's folder picker can be used. */
  get canPickFolder(): boolean {
    return this.#deps.nativeFileDialogs();
  }

  /** Edits the folder path. */
  setPath(path: string): void {
    this.#path = path;
  }

  /** Edits the model id. */
  setId(id: string): void {
    this.#id = id;
  }

  /** Edits the free-text repository. */
  setRepo(repo: string): void {
    this.#repo = repo;
  }

  /** The id to use: the typed one, else one derived from the folder name. */
  get effectiveId(): string {
    return this.#id.trim() || suggestId(this.#path);
  }

  /** Loads the catalog, the HF cache listing, the stored models and the tasks. */
  async refresh(): Promise<void> {
    const [catalog, cache, overview, tasks] = await Promise.allSettled([
      this.#deps.api.call('models.catalog', {}),
      this.#deps.api.call('models.hfCache', {}),
      this.#deps.api.call('models.overview', {}),
      this.#deps.api.call('models.tasks', {}),
    ]);
    if (catalog.status === 'fulfilled') this.#catalog = catalog.value;
    if (cache.status === 'fulfilled') this.#cache = cache.value;
    if (overview.status === 'fulfilled') this.#overview = overview.value;
    if (tasks.status === 'fulfilled') this.#tasks = [...tasks.value].reverse();
    const failed = [catalog, cache, overview, tasks].find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) this.#deps.reporter.reportError(failed.reason, 'Could not read the models');
  }

  /** Reloads what a finished task changed. */
  async #afterChange(): Promise<void> {
    await Promise.all([this.refresh(), this.#deps.onModelsChanged()]);
  }

  /** Folds a task event into the list; a task that finished refreshes what it changed. */
  onTask(task: TaskState): void {
    const previous = this.#tasks.find((t) => t.taskId === task.taskId);
    this.#tasks = [task, ...this.#tasks.filter((t) => t.taskId !== task.taskId)];
    if (task.status === 'running' || previous?.status === task.status) return;
    if (task.status === 'done') {
      if (task.message) this.#deps.reporter.notify('info', `${task.title}: ${task.message}`, `task-${task.taskId}`);
      void this.#afterChange();
    } else if (task.status === 'error') {
      this.#deps.reporter.notify('error', `${task.title} failed: ${task.error ?? 'unknown error'}`, `task-${task.taskId}`);
      void this.refresh();
    }
  }

  /** The running task that does `kind` for `subject` (an alias, repository or model id), if any. */
  runningTask(kind: TaskState['request']['kind'], subject: string): TaskState | undefined {
    return this.#tasks.find((t) => t.status === 'running' && t.request.kind === kind && taskSubject(t) === subject);
  }

  /** The latest task of `kind` for `subject`, running or finished. */
  latestTask(kind: TaskState['request']['kind'], subject: string): TaskState | undefined {
    return this.#tasks.find((t) => t.request.kind === kind && taskSubject(t) === subject);
  }

  /** Starts a background task; its progress arrives as task events. */
  async start(request: TaskRequestInput): Promise<void> {
    try {
      this.onTask(await this.#deps.api.call('models.startTask', request));
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not start');
    }
  }

  /** Pulls the typed owner/name repository. */
  async pullRepo(): Promise<void> {
    const repo = this.#repo.trim().replace(/^https?:\/\/huggingface\.co\//, '').replace(/\/+$/, '');
    if (repo === '') return;
    await this.start({ kind: 'pull', name: repo });
    this.#repo = '';
  }

  /** Stops a running task. */
  async cancel(taskId: string): Promise<void> {
    try {
      await this.#deps.api.call('models.cancelTask', { taskId });
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not cancel');
    }
  }

  /** Asks the desktop app's folder picker for a folder and puts it in the path field. */
  async pickFolder(): Promise<void> {
    try {
      const picked = await this.#deps.api.call('models.pickFolder', {});
      if (picked) this.#path = picked.path;
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not open the folder picker');
    }
  }

  /** Imports the typed folder as a background task. */
  async importFolder(): Promise<void> {
    const path = this.#path.trim();
    const id = this.effectiveId;
    this.#importError = null;
    if (path === '') {
      this.#importError = 'Enter the folder that holds config.json and model.safetensors.';
      return;
    }
    const problem = idProblem(id);
    if (problem) {
      if (this.#id.trim() === '') this.#importError = problem;
      return;
    }
    try {
      this.onTask(await this.#deps.api.call('models.startTask', { kind: 'folder-import', path, id }));
      this.#path = '';
      this.#id = '';
    } catch (error) {
      this.#importError = ApiError.from(error).message;
    }
  }

  /** Removes a model (the page confirms first). */
  async remove(model: Pick<ModelSummary, 'id'>): Promise<void> {
    this.#removing = model.id;
    try {
      await this.#deps.api.call('models.remove', { id: model.id });
      await this.#afterChange();
    } catch (error) {
      this.#deps.reporter.reportError(error, `Could not remove ${model.id}`);
    } finally {
      this.#removing = null;
    }
  }

  /** Deletes one precision variant of a model. */
  async removeVariant(id: string, precision: VariantPrecision): Promise<void> {
    try {
      await this.#deps.api.call('models.removeVariant', { id, precision });
      await this.refresh();
    } catch (error) {
      this.#deps.reporter.reportError(error, `Could not delete the ${precision} variant of ${id}`);
    }
  }

  /** The precision chosen for loading `id` (default auto). */
  loadPrecision(id: string): PrecisionRequest {
    return this.#loadPrecision[id] ?? 'auto';
  }

  /** Chooses the precision to load `id` in, and estimates its memory. */
  async setLoadPrecision(id: string, precision: PrecisionRequest): Promise<void> {
    this.#loadPrecision = { ...this.#loadPrecision, [id]: precision };
    await this.estimate(id);
  }

  /** The last estimate for loading `id`. */
  estimateFor(id: string): LoadEstimate | undefined {
    return this.#estimates[id];
  }

  /** Estimates the memory loading `id` takes in the chosen precision, against the free memory now. */
  async estimate(id: string): Promise<void> {
    try {
      const estimate = await this.#deps.api.call('models.estimate', { id, precision: this.loadPrecision(id) });
      this.#estimates = { ...this.#estimates, [id]: estimate };
    } catch (error) {
      this.#deps.reporter.reportError(error, `Could not estimate the memory of ${id}`);
    }
  }

  /** Loads `id` in the chosen precision (a task with progress). */
  async load(id: string): Promise<void> {
    await this.start({ kind: 'load', id, precision: this.loadPrecision(id) });
  }

  /** Unloads every decoder of `id`. */
  async unload(id: string): Promise<void> {
    try {
      await this.#deps.api.call('models.unload', { id });
      await this.#afterChange();
    } catch (error) {
      this.#deps.reporter.reportError(error, `Could not unload ${id}`);
    }
  }

  /** The default parameters saved for `id`. */
  defaultsFor(id: string): ModelDefaultParams {
    return this.#deps.modelDefaults()[id] ?? {};
  }

  /** Saves `id`'s default parameters (an empty object removes them). */
  async saveDefaults(id: string, defaults: ModelDefaultParams): Promise<void> {
    const next = { ...this.#deps.modelDefaults() };
    if (Object.keys(defaults).length === 0) delete next[id];
    else next[id] = defaults;
    await this.#deps.onSaveModelDefaults(next);
  }
}

/** What a task is about: the alias or repository of a pull or cache import, the model id otherwise. */
export function taskSubject(task: TaskState): string {
  const request = task.request;
  return request.kind === 'pull' || request.kind === 'cache-import' ? request.name : request.kind === 'folder-import' ? request.id : `${request.id}${request.kind === 'convert' ? `/${request.precision}` : ''}`;
}

/** A model id from a folder path: "/models/gpt2-large/" → "gpt2-large". */
export function suggestId(path: string): string {
  const name = path.trim().replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? '';
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').replace(/-+$/, '').slice(0, 64);
}

function idProblem(id: string): string | null {
  const result = ModelId.safeParse(id);
  return result.success ? null : `Model id: ${result.error.issues[0]?.message ?? 'invalid'}`;
}
