/**
 * The Write page's controller: Continue / Stop / Retry / Accept and the
 * candidate cycle, over the open document, the parameters and the editor.
 * The editor itself stays in its component and is reached through
 * `EditorPort`, so this class can be driven by tests with a fake editor.
 */
import { ApiError, type DeviceName, type GenerationEvent, type HistoryEntry, type Timings } from '../../../shared/api';
import { composePrompt, type ComposedPrompt } from '../../../shared/prompt';
import { CandidateSet } from '../lib/candidates';
import type { GenerateRequest } from '../lib/generation-router';
import { cleanTemplateOutput } from '../lib/presets';
import type { AppState } from './app.svelte';
import { ContextMeterState, type MeterInput } from './context-meter.svelte';
import { DocumentState } from './documents.svelte';
import { ParamsState } from './params.svelte';
import { TemplateForm } from './template-form.svelte';

/** What the controller needs of the editor component. */
export interface EditorPort {
  /** Replaces the whole text; undo history starts afresh. */
  load(text: string): void;
  /** The text and the cursor (selection head). */
  snapshot(): { text: string; cursor: number };
  /** Pins the ghost-text anchor at the cursor; it then follows edits. */
  markAnchor(): void;
  /** Inserts at the anchor as one undo step and puts the cursor after it. */
  insertAtAnchor(text: string): void;
  focus(): void;
}

/** Where the prompt of the current candidates came from. */
export type GenerationSource =
  | { kind: 'document' }
  | { kind: 'template'; name: string }
  | { kind: 'rerun'; historyId: number };

/** Facts about the current generation for the panel and status bar. */
export interface RunInfo {
  modelId: string;
  device: DeviceName | null;
  seed: number | null;
  promptTokens: number;
  truncatedPromptTokens: number;
  timings: Timings | null;
  deviceFallbackReason: string | null;
}

/** The facts of a generation before its `started` event. */
function runNotStarted(modelId: string): RunInfo {
  return { modelId, device: null, seed: null, promptTokens: 0, truncatedPromptTokens: 0, timings: null, deviceFallbackReason: null };
}

interface RunContext {
  request: GenerateRequest;
  source: GenerationSource;
  generationId: string | null;
  historyId: number | null;
  /** Accepted before `done` gave the history id. */
  pendingAccept: number | null;
  stopRequested: boolean;
}

/** Controller of the Write page. */
export class WriteSession {
  readonly #app: AppState;
  readonly documents: DocumentState;
  readonly params: ParamsState;
  readonly meter: ContextMeterState;
  readonly template: TemplateForm;

  #candidates = $state.raw(CandidateSet.idle());
  #source = $state.raw<GenerationSource>({ kind: 'document' });
  #run = $state.raw<RunInfo | null>(null);
  #cursor = $state(0);
  #message = $state<string | null>(null);
  #ghostText = $derived.by((): string | null => {
    const text = this.#candidates.current?.text ?? '';
    if (this.#candidates.phase === 'idle' || this.#candidates.phase === 'failed' || text.length === 0) return null;
    return this.#source.kind === 'template' ? cleanTemplateOutput(text) : text;
  });
  #meterInput = $derived.by((): MeterInput | null => {
    const model = this.params.model;
    if (!model) return null;
    const composed = this.#compose(this.documents.text, this.#cursor);
    return { modelId: model.id, memory: composed.memory, prompt: composed.prompt };
  });
  #current: RunContext | null = null;
  #port: EditorPort | null = null;
  #whenPortAttached: (() => void) | null = null;

  constructor(app: AppState) {
    this.#app = app;
    this.documents = new DocumentState(app);
    this.params = new ParamsState(app);
    this.meter = new ContextMeterState(app, () => this.params.model, () => this.params.values.maxNewTokens);
    this.template = new TemplateForm();
  }

  get candidates(): CandidateSet {
    return this.#candidates;
  }
  get source(): GenerationSource {
    return this.#source;
  }
  get run(): RunInfo | null {
    return this.#run;
  }
  /** Text shown at the cursor as ghost text, or null. */
  get ghostText(): string | null {
    return this.#ghostText;
  }
  /** What the context meter should measure now (memory + prompt for the cursor). */
  get meterInput(): MeterInput | null {
    return this.#meterInput;
  }
  /** A short status line for the candidates panel (why nothing happened, …). */
  get message(): string | null {
    return this.#message;
  }
  /** Retry has something to repeat. */
  get canRetry(): boolean {
    return this.#current !== null && !this.#candidates.running;
  }

  /** Loads the documents list and the latest document. */
  async start(): Promise<void> {
    await this.documents.start();
  }

  /** Connects (or, with null, disconnects) the editor component. */
  attachEditor(port: EditorPort | null): void {
    this.#port = port;
    this.documents.setLoader(port ? (text) => port.load(text) : null);
    if (port && this.#whenPortAttached) {
      const run = this.#whenPortAttached;
      this.#whenPortAttached = null;
      run();
    }
  }

  /** Puts the keyboard focus in the editor. */
  focusEditor(): void {
    this.#port?.focus();
  }

  /** The editor's cursor moved. */
  moveCursor(position: number): void {
    this.#cursor = position;
  }

  /** Continue: candidates for the text before the cursor (memory and author's note applied). */
  async continue(): Promise<void> {
    const port = this.#port;
    const model = this.params.model;
    if (!port) return;
    if (!model) {
      this.#noModel();
      return;
    }
    const { text, cursor } = port.snapshot();
    const composed = this.#compose(text, cursor);
    port.markAnchor();
    await this.#generate(
      { modelId: model.id, prompt: composed.prompt, memory: composed.memory, params: this.params.request(), documentId: this.documents.id },
      { kind: 'document' },
    );
  }

  /** Generates copy from the marketing template form; accepted copy goes in at the cursor. */
  async generateFromTemplate(): Promise<void> {
    const port = this.#port;
    const model = this.params.model;
    const template = this.template.template;
    if (!port || !template) return;
    if (!model) {
      this.#noModel();
      return;
    }
    const missing = this.template.missing;
    if (missing) {
      this.#message = `Fill in the ${missing} field first.`;
      return;
    }
    port.markAnchor();
    await this.#generate(
      { modelId: model.id, prompt: this.template.prompt, memory: '', params: this.params.request(template.params), documentId: this.documents.id },
      { kind: 'template', name: template.name },
    );
  }

  /** Inserts the template's few-shot prompt into the document at the cursor (to edit it by hand). */
  insertTemplatePrompt(): void {
    const port = this.#port;
    if (!port || this.template.missing) {
      if (this.template.missing) this.#message = `Fill in the ${this.template.missing} field first.`;
      return;
    }
    port.markAnchor();
    port.insertAtAnchor(this.template.prompt);
    port.focus();
  }

  /** Retry: the same request again; a new seed unless the seed is locked. */
  async retry(): Promise<void> {
    const previous = this.#current;
    if (!previous) return this.continue();
    if (this.#candidates.phase === 'idle') this.#port?.markAnchor();
    const { seed: _unused, ...params } = previous.request.params ?? {};
    const seeded = this.params.seedLocked ? { ...params, seed: this.params.seed } : params;
    await this.#generate({ ...previous.request, params: seeded }, previous.source);
  }

  /** Re-runs a history entry with its model, parameters and seed; candidates appear at the cursor. */
  async rerun(entry: HistoryEntry): Promise<void> {
    this.params.applyEntry(entry);
    const go = async (): Promise<void> => {
      this.#port?.markAnchor();
      await this.#generate(
        {
          modelId: entry.modelId,
          prompt: entry.prompt,
          memory: entry.memory,
          params: { ...entry.params, seed: entry.seed },
          documentId: this.documents.id,
        },
        { kind: 'rerun', historyId: entry.id },
      );
    };
    if (this.#port) await go();
    else this.#whenPortAttached = () => void go();
  }

  /** Stop: asks the back end to end the running generation (what streamed so far stays). */
  async stop(): Promise<void> {
    const run = this.#current;
    if (run && this.#candidates.running) await this.#cancel(run);
  }

  /** Escape: stops a running generation, else dismisses the candidates. Returns whether it did anything. */
  escape(): boolean {
    if (this.#candidates.running) {
      void this.stop();
      return true;
    }
    if (this.#candidates.phase !== 'idle') {
      this.#candidates = CandidateSet.idle();
      return true;
    }
    return false;
  }

  /** Alt+[ / Alt+]: moves the selection. Returns whether there was anything to cycle. */
  cycle(step: number): boolean {
    if (this.#candidates.cards.length < 2) return false;
    this.#candidates = this.#candidates.cycle(step);
    return true;
  }

  /** Selects a card (click). */
  select(index: number): void {
    this.#candidates = this.#candidates.select(index);
  }

  /** Tab / Accept: inserts the selected candidate as one undo step and records it in history. */
  accept(index?: number): boolean {
    const port = this.#port;
    const run = this.#current;
    if (!port || !run) return false;
    const set = index === undefined ? this.#candidates : this.#candidates.select(index);
    const accepted = set.accept();
    if (!accepted) return false;
    const wasRunning = set.running;
    const text = run.source.kind === 'template' ? cleanTemplateOutput(accepted.text) : accepted.text;
    port.insertAtAnchor(text);
    this.#candidates = accepted.next;
    this.#message = null;
    if (run.historyId !== null) void this.#recordAccept(run.historyId, accepted.index);
    else run.pendingAccept = accepted.index;
    // Accepting mid-stream ends the generation; its `done` still brings the history id.
    if (wasRunning) void this.#cancel(run);
    return true;
  }

  async #cancel(run: RunContext): Promise<void> {
    run.stopRequested = true;
    if (run.generationId === null) return;
    try {
      await this.#app.generations.cancel(run.generationId);
    } catch (error) {
      this.#app.reportError(error, 'Could not stop the generation');
    }
  }

  async #generate(request: GenerateRequest, source: GenerationSource): Promise<void> {
    const previous = this.#current;
    if (previous && this.#candidates.running) void this.#cancel(previous);
    const run: RunContext = { request, source, generationId: null, historyId: null, pendingAccept: null, stopRequested: false };
    this.#current = run;
    this.#source = source;
    this.#message = null;
    this.#candidates = CandidateSet.waiting(request.params.numReturnSequences ?? 3);
    this.#run = runNotStarted(request.modelId);
    try {
      run.generationId = await this.#app.generations.start(request, (event) => this.#onEvent(run, event));
    } catch (error) {
      if (this.#current === run) this.#candidates = this.#candidates.failed(ApiError.from(error).message);
      this.#app.reportError(error, 'Could not start the generation');
      return;
    }
    if (run.stopRequested) void this.#cancel(run);
  }

  #onEvent(run: RunContext, event: GenerationEvent): void {
    const isCurrent = this.#current === run;
    switch (event.type) {
      case 'started':
        if (!isCurrent) return;
        this.#candidates = this.#candidates.started(event.numSequences);
        this.#run = { ...this.#runInfo(), device: event.device, seed: event.seed, promptTokens: event.promptTokens, truncatedPromptTokens: event.truncatedPromptTokens };
        this.params.noteUsedSeed(event.seed);
        return;
      case 'delta':
        if (isCurrent) this.#candidates = this.#candidates.withDelta(event.sequence, event.text);
        return;
      case 'done': {
        const { result } = event;
        run.historyId = result.historyId;
        this.#app.noteGeneration(result);
        if (run.pendingAccept !== null) void this.#recordAccept(result.historyId, run.pendingAccept);
        if (!isCurrent) return;
        if (this.#candidates.phase !== 'idle') this.#candidates = this.#candidates.finished(result);
        this.#run = {
          modelId: result.modelId,
          device: result.device,
          seed: result.seed,
          promptTokens: result.promptTokens,
          truncatedPromptTokens: result.truncatedPromptTokens,
          timings: result.timings,
          deviceFallbackReason: result.deviceFallbackReason ?? null,
        };
        return;
      }
      case 'error':
        if (!isCurrent) return;
        if (event.error.kind === 'cancelled') {
          this.#candidates = this.#candidates.stopped();
          return;
        }
        this.#candidates = this.#candidates.failed(event.error.message);
        this.#app.reportError(ApiError.from(event.error), 'Generation failed');
    }
  }

  /** What Continue sends for `text` with the cursor at `cursor`: the document's memory and author's note applied. */
  #compose(text: string, cursor: number): ComposedPrompt {
    return composePrompt({
      memory: this.documents.memory,
      text: text.slice(0, cursor),
      authorsNote: this.documents.authorsNote,
      depth: this.#app.settings.authorsNoteDepth,
    });
  }

  #runInfo(): RunInfo {
    return this.#run ?? runNotStarted('');
  }

  async #recordAccept(historyId: number, candidateIndex: number): Promise<void> {
    try {
      await this.#app.api.call('history.accept', { id: historyId, candidateIndex });
      this.#app.touchHistory();
    } catch (error) {
      this.#app.reportError(error, 'Could not record the accepted candidate');
    }
  }

  #noModel(): void {
    this.#message = 'No model yet: import one on the Models page.';
    this.#app.notify('warning', 'No model is imported yet. Open Models to import one.', 'no-model');
  }
}
