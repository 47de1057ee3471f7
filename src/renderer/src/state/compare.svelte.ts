/**
 * The Compare page: one prompt on two to four columns (model + precision + device) with the same
 * parameters and seed. The back end's orchestrator runs it (columns on one device in turn) and
 * saves it to history as one comparison; this class holds the form, the live columns, the result
 * and the saved comparisons.
 */
import {
  ApiError,
  COMPARE_COLUMNS,
  type CompareColumnResult,
  type CompareColumnSpec,
  type CompareEvent,
  type Comparison,
  type GenerationDevice,
  type DocumentSummary,
  type ExportFormat,
  type ModelSummary,
  type Precision,
} from '../../../shared/api';
import { saveTextFile } from '../lib/files';
import type { ApiCaller, Reporter } from './deps';
import { randomSeed } from './params.svelte';

/** The sampling values every column shares. */
export interface CompareFormParams {
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  greedy: boolean;
}

/** What one column shows while the comparison runs and after. */
export interface LiveColumn {
  phase: 'idle' | 'waiting' | 'running' | 'done' | 'cancelled' | 'failed';
  text: string;
  /** 'remote' for a remote engine's column (columnDevice names the engine). */
  device: GenerationDevice | null;
  precision: Precision | null;
  result: CompareColumnResult | null;
}

/** Where an output is sent: an existing document or a new one. */
export type SendTarget = { kind: 'document'; id: number } | { kind: 'new' };

/** What CompareState is built from. */
export interface CompareDeps {
  api: ApiCaller;
  reporter: Reporter;
  /** The models the picker lists (local and remote alike). */
  models: () => readonly ModelSummary[];
  nativeFileDialogs: () => boolean;
  /** Appends `text` to the document the user picked (or a new one) and shows it in the editor. */
  sendToDocument: (target: SendTarget, text: string, title: string) => Promise<void>;
}

const idleColumn = (): LiveColumn => ({ phase: 'idle', text: '', device: null, precision: null, result: null });

/** Compare page state. */
export class CompareState {
  readonly #deps: CompareDeps;
  #prompt = $state('');
  #chosen = $state.raw<CompareColumnSpec[]>([
    { modelId: '', precision: 'auto', device: 'auto' },
    { modelId: '', precision: 'auto', device: 'auto' },
  ]);
  #params = $state.raw<CompareFormParams>({ maxNewTokens: 48, temperature: 0.9, topK: 50, topP: 0.95, repetitionPenalty: 1.1, greedy: false });
  #seed = $state(randomSeed());
  #live = $state.raw<LiveColumn[]>([idleColumn(), idleColumn()]);
  #phase = $state<'idle' | 'running' | 'scoring' | 'done' | 'failed'>('idle');
  #comparison = $state.raw<Comparison | null>(null);
  #error = $state<string | null>(null);
  #comparisonId: string | null = null;
  /** Events that arrived before compare.start answered (the WebSocket can beat the HTTP reply). */
  #early: CompareEvent[] = [];
  #starting = false;
  #saved = $state.raw<Comparison[]>([]);
  #savedTotal = $state(0);
  #savedQuery = $state('');
  #savedLoaded = $state(false);
  #columns = $derived.by((): CompareColumnSpec[] => {
    const models = this.#deps.models();
    return this.#chosen.map((spec, i) => ({
      ...spec,
      modelId: models.some((m) => m.id === spec.modelId) ? spec.modelId : (models[Math.min(i, models.length - 1)]?.id ?? ''),
    }));
  });

  constructor(deps: CompareDeps) {
    this.#deps = deps;
  }

  get prompt(): string {
    return this.#prompt;
  }
  /** The columns, with models no longer listed replaced by listed ones. */
  get columns(): CompareColumnSpec[] {
    return this.#columns;
  }
  get params(): CompareFormParams {
    return this.#params;
  }
  get seed(): number {
    return this.#seed;
  }
  /** Each column's live view. */
  get live(): LiveColumn[] {
    return this.#live;
  }
  get phase(): 'idle' | 'running' | 'scoring' | 'done' | 'failed' {
    return this.#phase;
  }
  get running(): boolean {
    return this.#phase === 'running' || this.#phase === 'scoring';
  }
  /** The last finished comparison (as saved). */
  get comparison(): Comparison | null {
    return this.#comparison;
  }
  get error(): string | null {
    return this.#error;
  }
  get canAddColumn(): boolean {
    return this.#chosen.length < COMPARE_COLUMNS.max;
  }
  get canRemoveColumn(): boolean {
    return this.#chosen.length > COMPARE_COLUMNS.min;
  }
  /** Saved comparisons matching the search (newest first). */
  get saved(): Comparison[] {
    return this.#saved;
  }
  get savedTotal(): number {
    return this.#savedTotal;
  }
  get savedQuery(): string {
    return this.#savedQuery;
  }
  get savedLoaded(): boolean {
    return this.#savedLoaded;
  }

  setPrompt(prompt: string): void {
    this.#prompt = prompt;
  }

  /** Changes one column's model, precision or device. */
  setColumn(index: number, patch: Partial<CompareColumnSpec>): void {
    this.#chosen = this.#columns.map((spec, i) => (i === index ? { ...spec, ...patch } : spec));
  }

  /** Adds a column (up to four), on the next listed model. */
  addColumn(): void {
    if (!this.canAddColumn) return;
    const models = this.#deps.models();
    const next = models[this.#chosen.length % Math.max(1, models.length)]?.id ?? '';
    this.#chosen = [...this.#columns, { modelId: next, precision: 'auto', device: 'auto' }];
    this.#live = [...this.#live, idleColumn()];
  }

  /** Removes a column (down to two). */
  removeColumn(index: number): void {
    if (!this.canRemoveColumn) return;
    this.#chosen = this.#columns.filter((_, i) => i !== index);
    this.#live = this.#live.filter((_, i) => i !== index);
  }

  /** Changes a shared parameter. */
  setParam<K extends keyof CompareFormParams>(key: K, value: CompareFormParams[K]): void {
    if (typeof value === 'number' && !Number.isFinite(value)) return;
    this.#params = { ...this.#params, [key]: value };
  }

  /** Sets the shared seed. */
  setSeed(seed: number): void {
    if (Number.isFinite(seed)) this.#seed = Math.min(0xffff_ffff, Math.max(0, Math.round(seed)));
  }

  /** Picks a new random seed. */
  shuffleSeed(): void {
    this.#seed = randomSeed();
  }

  /** Runs the comparison; progress arrives through onEvent. */
  async run(): Promise<void> {
    if (this.running) return;
    const columns = this.#columns;
    if (columns.some((c) => c.modelId === '')) {
      this.#error = 'No model: import one on the Models page.';
      this.#phase = 'failed';
      return;
    }
    const p = this.#params;
    this.#live = columns.map(() => ({ ...idleColumn(), phase: 'waiting' as const }));
    this.#comparison = null;
    this.#error = null;
    this.#phase = 'running';
    this.#comparisonId = null;
    this.#early = [];
    this.#starting = true;
    try {
      const { comparisonId } = await this.#deps.api.call('compare.start', {
        prompt: this.#prompt,
        columns,
        params: { maxNewTokens: p.maxNewTokens, temperature: p.temperature, topK: p.topK, topP: p.topP, repetitionPenalty: p.repetitionPenalty, doSample: !p.greedy, seed: this.#seed },
      });
      this.#comparisonId = comparisonId;
      for (const event of this.#early.splice(0)) this.onEvent(event);
    } catch (error) {
      this.#phase = 'failed';
      this.#live = columns.map(() => idleColumn());
      this.#error = ApiError.from(error).message;
    } finally {
      this.#starting = false;
      this.#early = [];
    }
  }

  /** Stops the running comparison (what was written is kept and saved). */
  async stop(): Promise<void> {
    const id = this.#comparisonId;
    if (id === null || !this.running) return;
    try {
      await this.#deps.api.call('compare.cancel', { comparisonId: id });
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not stop the comparison');
    }
  }

  /** A 'compare' server event (AppState routes them here). */
  onEvent(event: CompareEvent): void {
    if (this.#comparisonId === null) {
      if (this.#starting) this.#early.push(event);
      return;
    }
    if (event.comparisonId !== this.#comparisonId) return;
    switch (event.type) {
      case 'started':
        return;
      case 'column-started':
        this.#patch(event.column, { phase: 'running', device: event.device, precision: event.precision });
        return;
      case 'delta':
        this.#patch(event.column, { text: (this.#live[event.column]?.text ?? '') + event.text });
        return;
      case 'column-done':
        this.#patch(event.column, { phase: event.result.status, text: event.result.text, device: event.result.device, precision: event.result.precision, result: event.result });
        return;
      case 'scoring':
        this.#phase = 'scoring';
        return;
      case 'done':
        this.#comparison = event.comparison;
        // The saved columns are final: a remote column's token ids are only read after it streamed.
        this.#live = this.#live.map((c, i) => ({ ...c, result: event.comparison.columns[i] ?? c.result }));
        this.#phase = 'done';
        void this.refreshSaved();
        return;
      case 'error':
        this.#phase = 'failed';
        this.#error = event.error.message;
        this.#live = this.#live.map((c) => (c.phase === 'waiting' || c.phase === 'running' ? { ...c, phase: 'cancelled' } : c));
    }
  }

  /** Loads a saved comparison into the form and runs it again (same prompt, columns, parameters and seed). */
  async rerun(entry: Comparison): Promise<void> {
    this.load(entry);
    await this.run();
  }

  /** Puts a saved comparison's prompt, columns, parameters and seed in the form and shows its result. */
  load(entry: Comparison): void {
    this.#prompt = entry.prompt;
    this.#chosen = entry.columns.map((c) => c.spec);
    const p = entry.params;
    this.#params = { maxNewTokens: p.maxNewTokens, temperature: p.temperature, topK: p.topK, topP: p.topP, repetitionPenalty: p.repetitionPenalty, greedy: !p.doSample };
    this.#seed = entry.seed;
    this.#comparison = entry;
    this.#live = entry.columns.map((c) => ({ phase: c.status, text: c.text, device: c.device, precision: c.precision, result: c }));
    this.#phase = 'done';
    this.#error = null;
  }

  /** Sends column `index`'s output (after the prompt) to the document the user picked. */
  async send(index: number, target: SendTarget): Promise<void> {
    const column = this.#comparison?.columns[index] ?? this.#live[index]?.result;
    if (!column) return;
    const title = `${this.#prompt.trim().split('\n')[0]?.slice(0, 60) || 'Comparison'} (${column.spec.modelId})`;
    try {
      // A new document gets the prompt too, so the output reads in context; an existing one only the output.
      await this.#deps.sendToDocument(target, target.kind === 'new' ? this.#prompt + column.text : column.text, title);
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not send the output to the document');
    }
  }

  setSavedQuery(query: string): void {
    this.#savedQuery = query;
    void this.refreshSaved();
  }

  /** Reloads the saved comparisons for the current search. */
  async refreshSaved(): Promise<void> {
    const query = this.#savedQuery;
    try {
      const page = await this.#deps.api.call('compare.list', { query, limit: 50 });
      if (query !== this.#savedQuery) return;
      this.#saved = page.entries;
      this.#savedTotal = page.total;
      this.#savedLoaded = true;
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not load saved comparisons');
    }
  }

  /** Deletes a saved comparison. */
  async remove(id: number): Promise<void> {
    try {
      await this.#deps.api.call('compare.delete', { id });
      if (this.#comparison?.id === id) this.#comparison = null;
      await this.refreshSaved();
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not delete the comparison');
    }
  }

  /** Exports the comparisons the search shows (all of them when there is no search), or just `ids`. */
  async export(format: ExportFormat, ids?: number[]): Promise<void> {
    try {
      const request = ids ? { format, ids } : this.#savedQuery.trim() === '' ? { format } : { format, ids: this.#saved.map((c) => c.id) };
      const file = await this.#deps.api.call('compare.export', request);
      await saveTextFile(this.#deps.api, this.#deps.nativeFileDialogs(), { name: file.filename, content: file.content, mimeType: file.mimeType });
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not export comparisons');
    }
  }

  /** The documents an output can be sent to (for the picker). */
  async documents(): Promise<DocumentSummary[]> {
    try {
      return await this.#deps.api.call('documents.list', {});
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not list the documents');
      return [];
    }
  }

  #patch(index: number, patch: Partial<LiveColumn>): void {
    this.#live = this.#live.map((c, i) => (i === index ? { ...c, ...patch } : c));
  }
}
