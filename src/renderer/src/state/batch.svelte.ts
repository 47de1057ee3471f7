/**
 * The Batch page: a prompts file (picked with the desktop app's dialog, typed as a path on the
 * machine running Inkwell, or uploaded from the browser), a model, a precision and generation
 * parameters, a results file; then the run's progress from the `batch` channel, cancel, resume,
 * and a preview of the results. The run itself happens in the back end.
 */
import { ApiError, GenerationParams, type ModelSummary, type Precision } from '../../../shared/api';
import { BATCH_LIMITS, type BatchPreview, type BatchSource, type BatchState as BatchRun } from '../../../shared/batch';
import type { ApiCaller, Reporter } from './deps';

/** Precisions the page offers ('auto': the engine's choice for the device). */
export type BatchPrecision = 'auto' | Precision;

/** The parameters the page edits (the rest are the schema's defaults). */
export interface BatchParams {
  maxNewTokens: number;
  numReturnSequences: number;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  greedy: boolean;
  /** Base seed: row i gets seed + i (a row's own seed wins); empty means a random seed per row. */
  seed: string;
}

/** A browser file read for upload. */
export interface UploadedPrompts {
  name: string;
  content: string;
  bytes: number;
}

/** What BatchPageState is built from. */
export interface BatchDeps {
  api: ApiCaller;
  reporter: Reporter;
  models: () => readonly ModelSummary[];
  /** The model the writer uses, offered first. */
  defaultModelId: () => string | null;
  /** The data folder on the back end's machine (results of uploads go to its batches/ folder). */
  dataDir: () => string;
}

/** The batch defaults follow `inkwell batch` (one sequence, 50 tokens, sampling at temperature 1). */
const DEFAULT_PARAMS: BatchParams = { maxNewTokens: 50, numReturnSequences: 1, temperature: 1, topK: 50, topP: 1, repetitionPenalty: 1, greedy: false, seed: '' };

/** `prompts.jsonl` → `prompts.results.jsonl`, in the same folder. */
export function resultsPathFor(promptsPath: string): string {
  const slash = Math.max(promptsPath.lastIndexOf('/'), promptsPath.lastIndexOf('\\'));
  const dot = promptsPath.lastIndexOf('.');
  const stem = dot > slash + 1 ? promptsPath.slice(0, dot) : promptsPath;
  return `${stem}.results.jsonl`;
}

/** `<data folder>/batches/<name>.results.jsonl` for an uploaded file. */
export function uploadResultsPath(dataDir: string, name: string): string {
  const separator = dataDir.includes('\\') && !dataDir.includes('/') ? '\\' : '/';
  const base = dataDir.replace(/[\\/]+$/, '');
  return `${base}${separator}batches${separator}${resultsPathFor(name.replace(/^.*[\\/]/, ''))}`;
}

/** Batch page state. */
export class BatchPageState {
  readonly #deps: BatchDeps;
  #sourceKind = $state<'path' | 'upload'>('path');
  #promptsPath = $state('');
  #upload = $state.raw<UploadedPrompts | null>(null);
  #outPath = $state('');
  #outEdited = false;
  #modelId = $state<string | null>(null);
  #precision = $state<BatchPrecision>('auto');
  #concurrency = $state(4);
  #params = $state<BatchParams>({ ...DEFAULT_PARAMS });
  #run = $state.raw<BatchRun | null>(null);
  #starting = $state(false);
  #startError = $state<string | null>(null);
  /** The last start was refused because the results file already holds rows: offer to resume it. */
  #canResume = $state(false);
  #preview = $state.raw<BatchPreview | null>(null);
  #previewError = $state<string | null>(null);
  #model = $derived.by(() => {
    const models = this.#deps.models();
    const chosen = this.#modelId ?? this.#deps.defaultModelId();
    return models.find((m) => m.id === chosen) ?? models[0] ?? null;
  });

  constructor(deps: BatchDeps) {
    this.#deps = deps;
  }

  get sourceKind(): 'path' | 'upload' {
    return this.#sourceKind;
  }
  get promptsPath(): string {
    return this.#promptsPath;
  }
  get upload(): UploadedPrompts | null {
    return this.#upload;
  }
  get outPath(): string {
    return this.#outPath;
  }
  get model(): ModelSummary | null {
    return this.#model;
  }
  get precision(): BatchPrecision {
    return this.#precision;
  }
  get concurrency(): number {
    return this.#concurrency;
  }
  get params(): BatchParams {
    return this.#params;
  }
  /** The running batch, else the last one (from the back end's events or batch.get). */
  get run(): BatchRun | null {
    return this.#run;
  }
  get running(): boolean {
    return this.#run?.status === 'running';
  }
  get starting(): boolean {
    return this.#starting;
  }
  get startError(): string | null {
    return this.#startError;
  }
  get canResume(): boolean {
    return this.#canResume;
  }
  get preview(): BatchPreview | null {
    return this.#preview;
  }
  get previewError(): string | null {
    return this.#previewError;
  }
  /** Share of the rows done, 0–1 (rows already in the file count as done). */
  get fraction(): number {
    const run = this.#run;
    if (!run) return 0;
    const all = run.total + run.alreadyDone;
    return all === 0 ? 1 : (run.done + run.alreadyDone) / all;
  }

  /** Chooses where the prompts come from. */
  setSourceKind(kind: 'path' | 'upload'): void {
    this.#sourceKind = kind;
    this.#suggestOutPath();
  }

  /** Edits the prompts path (on the machine running Inkwell). */
  setPromptsPath(path: string): void {
    this.#promptsPath = path;
    this.#suggestOutPath();
  }

  /** Takes a browser file for upload; refused past the upload limit (give its path instead). */
  setUpload(file: UploadedPrompts | null): void {
    this.#startError = null;
    if (file && file.content.length > BATCH_LIMITS.maxUploadChars) {
      this.#upload = null;
      this.#startError = `${file.name} is too large to upload (at most ${(BATCH_LIMITS.maxUploadChars / 1_000_000).toFixed(0)} million characters): give its path on the machine running Inkwell instead.`;
      return;
    }
    this.#upload = file;
    this.#suggestOutPath();
  }

  /** Edits the results path; from now on it is no longer suggested. */
  setOutPath(path: string): void {
    this.#outPath = path;
    this.#outEdited = path.trim() !== '';
    this.#canResume = false;
  }

  selectModel(id: string): void {
    this.#modelId = id;
  }
  setPrecision(precision: BatchPrecision): void {
    this.#precision = precision;
  }
  setConcurrency(n: number): void {
    this.#concurrency = Math.min(BATCH_LIMITS.maxConcurrency, Math.max(1, Math.round(n) || 1));
  }
  /** Changes one parameter. */
  setParam<K extends keyof BatchParams>(key: K, value: BatchParams[K]): void {
    this.#params = { ...this.#params, [key]: value };
  }

  /** Desktop: the native open dialog for the prompts file. */
  async pickPrompts(): Promise<void> {
    try {
      const picked = await this.#deps.api.call('batch.pickPrompts', {});
      if (picked) this.setPromptsPath(picked.path);
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not open the file dialog');
    }
  }

  /** Desktop: the native save dialog for the results file. */
  async pickResults(): Promise<void> {
    try {
      const picked = await this.#deps.api.call('batch.pickResults', { suggestedPath: this.#outPath });
      if (picked) this.setOutPath(picked.path);
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not open the file dialog');
    }
  }

  /** The generation parameters to send, or the reason they cannot be sent. */
  generationParams(): GenerationParams | string {
    const p = this.#params;
    const seedText = p.seed.trim();
    const seed = seedText === '' ? undefined : Number(seedText);
    if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed <= 0xffff_ffff)) return 'The seed must be a whole number from 0 to 4294967295, or empty for a random seed per row.';
    const parsed = GenerationParams.safeParse({
      maxNewTokens: p.maxNewTokens,
      numReturnSequences: p.numReturnSequences,
      temperature: p.temperature,
      topK: p.topK,
      topP: p.topP,
      repetitionPenalty: p.repetitionPenalty,
      doSample: !p.greedy,
      ...(seed !== undefined ? { seed } : {}),
    });
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    return `${String(issue?.path[0] ?? 'parameters')}: ${issue?.message ?? 'invalid'}`;
  }

  /** Starts the batch (or resumes the results file when `resume`). */
  async start(resume = false): Promise<void> {
    this.#startError = null;
    this.#canResume = false;
    const model = this.#model;
    if (!model) return this.#refuse('Import a model first (Models page).');
    const source = this.#source();
    if (typeof source === 'string') return this.#refuse(source);
    if (this.#outPath.trim() === '') return this.#refuse('Choose a results file (.jsonl).');
    const params = this.generationParams();
    if (typeof params === 'string') return this.#refuse(params);
    this.#starting = true;
    try {
      const started = await this.#deps.api.call('batch.start', {
        modelId: model.id,
        precision: this.#precision,
        source,
        outPath: this.#outPath.trim(),
        params,
        concurrency: this.#concurrency,
        resume,
      });
      this.#preview = null;
      this.#previewError = null;
      this.#adopt(started);
    } catch (error) {
      const apiError = ApiError.from(error);
      this.#startError = apiError.message;
      this.#canResume = apiError.kind === 'refused' && apiError.message.includes('already holds results');
    } finally {
      this.#starting = false;
    }
  }

  /** Asks the back end to stop the running batch (rows in flight are not written; resume runs them). */
  async cancel(): Promise<void> {
    const run = this.#run;
    if (!run || run.status !== 'running') return;
    try {
      await this.#deps.api.call('batch.cancel', { batchId: run.batchId });
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not cancel the batch');
    }
  }

  /** Takes a state from the `batch` channel. */
  onEvent(run: BatchRun): void {
    this.#adopt(run);
    if (run.status !== 'running') void this.loadPreview();
  }

  /** Reloads the back end's batch (page shown, connection back). */
  async refresh(): Promise<void> {
    try {
      const run = await this.#deps.api.call('batch.get', {});
      if (run) this.#adopt(run);
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not read the batch');
    }
  }

  /** Loads the first rows of the results file. */
  async loadPreview(): Promise<void> {
    const path = this.#run?.outPath ?? this.#outPath.trim();
    if (path === '') return;
    try {
      this.#preview = await this.#deps.api.call('batch.preview', { path });
      this.#previewError = null;
    } catch (error) {
      this.#preview = null;
      this.#previewError = ApiError.from(error).message;
    }
  }

  /** Fetches the whole results file (for a browser download). */
  async download(): Promise<{ filename: string; content: string; mimeType: string } | null> {
    const path = this.#run?.outPath;
    if (!path) return null;
    try {
      return await this.#deps.api.call('batch.download', { path });
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not download the results');
      return null;
    }
  }

  /** Desktop: shows the results file in the file manager. */
  async reveal(): Promise<void> {
    const path = this.#run?.outPath;
    if (!path) return;
    try {
      await this.#deps.api.call('batch.reveal', { path });
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not show the file');
    }
  }

  #adopt(run: BatchRun): void {
    // An older batch's late event must not replace the running one.
    const current = this.#run;
    if (current && current.batchId !== run.batchId && current.status === 'running' && run.startedAt < current.startedAt) return;
    // batch.start's answer may arrive after the batch's own later events (a short batch ends at once): keep the newer state.
    if (current && current.batchId === run.batchId && run.status === 'running' && (current.status !== 'running' || run.done + run.skipped < current.done + current.skipped)) return;
    this.#run = run;
  }

  #refuse(message: string): void {
    this.#startError = message;
  }

  #source(): BatchSource | string {
    if (this.#sourceKind === 'upload') {
      const upload = this.#upload;
      return upload ? { kind: 'upload', name: upload.name, content: upload.content } : 'Choose a prompts file to upload.';
    }
    const path = this.#promptsPath.trim();
    return path === '' ? 'Choose a prompts file (.txt, .jsonl or .csv).' : { kind: 'path', path };
  }

  #suggestOutPath(): void {
    if (this.#outEdited) return;
    if (this.#sourceKind === 'upload') this.#outPath = this.#upload ? uploadResultsPath(this.#deps.dataDir(), this.#upload.name) : '';
    else this.#outPath = this.#promptsPath.trim() === '' ? '' : resultsPathFor(this.#promptsPath.trim());
  }
}
