/**
 * The Write page's controller: Continue / Stop / Retry / Accept and the
 * candidate cycle, over the open document, the parameters and the editor.
 * The editor itself stays in its component and is reached through
 * `EditorPort`, so this class can be driven by tests with a fake editor.
 *
 * Generated text goes only where the writer asked for it. Every set of
 * candidates is a Suggestion that belongs to one document (its opening, see
 * DocumentHandle) and to the text before the cursor when Continue was
 * pressed (its prefix; the anchor is the prefix's end):
 * - another document never shows or takes them; they wait with their own;
 * - once the text before the anchor changes they are stale: marked, no ghost,
 *   and Tab refuses them, as editors drop an inline suggestion whose prefix
 *   no longer matches (they come back if the edit is undone);
 * - undoing an accept brings the set back and un-marks it in history.
 */
import { ApiError, type GenerationDevice, type GenerationEvent, type GenerationResult, type Timings } from '../../../shared/api';
import { composePrompt, type ComposedPrompt } from '../../../shared/prompt';
import { CandidateSet } from '../lib/candidates';
import type { GenerateRequest } from '../lib/generation-router';
import { cleanTemplateOutput } from '../lib/presets';
import type { ContextMeterState, MeterInput } from './context-meter.svelte';
import type { ApiCaller, Generations, Reporter } from './deps';
import { sameDocument, type DocumentHandle, type DocumentState } from './documents.svelte';
import type { ParamsState } from './params.svelte';
import type { TemplateForm } from './template-form.svelte';

/** What the controller needs of the editor component. */
export interface EditorPort {
  /** Replaces the whole text; undo history starts afresh. */
  load(text: string): void;
  /** The text and the cursor (selection head). */
  snapshot(): { text: string; cursor: number };
  /** Pins the ghost anchor at `at`; it then follows edits (text typed at it moves it along). */
  placeAnchor(at: number): void;
  /** Where the ghost anchor is now, after the edits since it was placed; null when there is none. */
  anchor(): number | null;
  /** Inserts `text` at `at` as one undo step, puts the cursor after it, and removes the ghost. */
  insert(at: number, text: string): void;
  focus(): void;
  /** The selected text ('' when nothing is selected). */
  selection?(): string;
}

/** Where the prompt of the current candidates came from. */
export type GenerationSource = { kind: 'document' } | { kind: 'template'; name: string };

/** Facts about a generation for the panel and status bar. */
export interface RunInfo {
  modelId: string;
  device: GenerationDevice | null;
  seed: number | null;
  promptTokens: number;
  truncatedPromptTokens: number;
  timings: Timings | null;
  deviceFallbackReason: string | null;
}

/** Candidates waiting with another document than the open one. */
export interface KeptElsewhere {
  documentId: number;
  title: string;
  count: number;
  running: boolean;
}

/** What WriteSession is built from. */
export interface WriteDeps {
  api: ApiCaller;
  generations: Generations;
  reporter: Reporter;
  documents: DocumentState;
  params: ParamsState;
  meter: ContextMeterState;
  template: TemplateForm;
  /** Lines before the cursor at which the Author's Note goes. */
  authorsNoteDepth: () => number;
  /** A generation finished (status bar, History). */
  onGenerationDone: (result: GenerationResult) => void;
  /** History changed here (an accept or its undo). */
  onHistoryChanged: () => void;
}

/** One generation's request and what the back end has said about it. */
interface RunContext {
  readonly request: GenerateRequest;
  readonly source: GenerationSource;
  generationId: string | null;
  historyId: number | null;
  /** The accepted index to record once `done` gives the history id (null: none). */
  pendingAccept: number | null;
  stopRequested: boolean;
  /** Accept records go to the back end one after another, so an undo never overtakes its accept. */
  acceptChain: Promise<void>;
}

/** Candidates, with the document and the text they were generated for. */
interface Suggestion {
  readonly owner: DocumentHandle;
  /** The text before the anchor when Continue was pressed; the anchor is at `prefix.length`. */
  readonly prefix: string;
  readonly run: RunContext;
  readonly candidates: CandidateSet;
  readonly info: RunInfo;
  /** The text before the anchor has changed since. */
  readonly stale: boolean;
}

/** An accept that undo can take back (and redo repeat). */
interface AcceptRecord {
  /** The suggestion as it was, with the accepted candidate selected. */
  suggestion: Suggestion;
  index: number;
  /** The document's whole text before and after the insert. */
  before: string;
  after: string;
}

const maxSuggestions = 8;
const maxAcceptRecords = 20;

const staleMessage = 'These candidates were written for text that has changed since. Continue (Ctrl+Enter) for new ones.';

/** The facts of a generation before its `started` event. */
function runNotStarted(modelId: string): RunInfo {
  return { modelId, device: null, seed: null, promptTokens: 0, truncatedPromptTokens: 0, timings: null, deviceFallbackReason: null };
}

/** Controller of the Write page. */
export class WriteSession {
  readonly #deps: WriteDeps;
  readonly documents: DocumentState;
  readonly params: ParamsState;
  readonly meter: ContextMeterState;
  readonly template: TemplateForm;

  #suggestions = $state.raw<readonly Suggestion[]>([]);
  #active = $derived.by((): Suggestion | null => {
    void this.documents.id;
    const current = this.documents.handle;
    return this.#suggestions.find((s) => sameDocument(s.owner, current)) ?? null;
  });
  #cursor = $state(0);
  #message = $state<string | null>(null);
  #ghostText = $derived.by((): string | null => {
    const active = this.#active;
    const text = active?.candidates.current?.text ?? '';
    if (!active || active.stale || active.candidates.phase === 'failed' || text.length === 0) return null;
    return active.run.source.kind === 'template' ? cleanTemplateOutput(text) : text;
  });
  #elsewhere = $derived.by((): KeptElsewhere | null => {
    const current = this.documents.handle;
    const other = this.#suggestions.find((s) => s.owner.id !== null && !sameDocument(s.owner, current) && s.candidates.phase !== 'idle');
    if (!other || other.owner.id === null) return null;
    const id = other.owner.id;
    return { documentId: id, title: this.documents.list.find((d) => d.id === id)?.title ?? 'another document', count: other.candidates.cards.length, running: other.candidates.running };
  });
  #meterInput = $derived.by((): MeterInput | null => {
    const model = this.params.model;
    if (!model) return null;
    const composed = this.#compose(this.documents.text, this.#cursor);
    return { modelId: model.id, memory: composed.memory, prompt: composed.prompt };
  });
  #accepted: AcceptRecord[] = [];
  #undone: AcceptRecord[] = [];
  #port: EditorPort | null = null;

  constructor(deps: WriteDeps) {
    this.#deps = deps;
    this.documents = deps.documents;
    this.params = deps.params;
    this.meter = deps.meter;
    this.template = deps.template;
  }

  /** The open document's candidates (idle when it has none). */
  get candidates(): CandidateSet {
    return this.#active?.candidates ?? CandidateSet.idle();
  }
  get source(): GenerationSource {
    return this.#active?.run.source ?? { kind: 'document' };
  }
  get run(): RunInfo | null {
    return this.#active?.info ?? null;
  }
  /** The open document's candidates were written for text that has changed since. */
  get stale(): boolean {
    return this.#active?.stale ?? false;
  }
  /** Tab / Accept has something it may insert. */
  get canAccept(): boolean {
    const active = this.#active;
    return active !== null && !active.stale && active.candidates.canAccept;
  }
  /** Text shown at the anchor as ghost text, or null. */
  get ghostText(): string | null {
    return this.#ghostText;
  }
  /** Candidates waiting with another document, to mention on this one. */
  get elsewhere(): KeptElsewhere | null {
    return this.#elsewhere;
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
    const active = this.#active;
    return active !== null && !active.candidates.running;
  }

  /** Loads the documents list and the latest document. */
  async start(): Promise<void> {
    await this.documents.start();
  }

  /** Connects (or, with null, disconnects) the editor component. */
  attachEditor(port: EditorPort | null): void {
    this.#port = port;
    this.documents.setLoader(
      port
        ? (text) => {
            port.load(text);
            this.#onDocumentShown(text);
          }
        : null,
    );
  }

  /** Puts the keyboard focus in the editor. */
  focusEditor(): void {
    this.#port?.focus();
  }

  /** The editor's cursor moved. */
  moveCursor(position: number): void {
    this.#cursor = position;
  }

  /** The writer changed the text (typing, undo, redo, paste). */
  editText(text: string): void {
    this.documents.editText(text);
    this.#checkFreshness(text);
    this.#checkUndoneAccepts(text);
  }

  /** The text selected in the editor ('' when nothing is). */
  selectedText(): string {
    return this.#port?.selection?.() ?? '';
  }

  /** What candidate `index` of the shown set was written for (the prompt sent, memory apart) and what it wrote. */
  candidateForInspect(index: number): { modelId: string; memory: string; prompt: string; candidate: { text: string; tokenIds?: readonly number[]; tokenLogprobs?: readonly number[]; tokenTexts?: readonly string[] } } | null {
    const active = this.#active;
    const card = active?.candidates.cards[index];
    if (!active || !card) return null;
    const stored = card.tokenIds && card.tokenLogprobs ? { tokenIds: card.tokenIds, tokenLogprobs: card.tokenLogprobs, ...(card.tokenTexts ? { tokenTexts: card.tokenTexts } : {}) } : {};
    return { modelId: active.run.request.modelId, memory: active.run.request.memory ?? '', prompt: active.run.request.prompt, candidate: { text: card.text, ...stored } };
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
    await this.#generate(
      { modelId: model.id, prompt: composed.prompt, memory: composed.memory, params: this.params.request(), documentId: this.documents.id },
      { kind: 'document' },
      text.slice(0, cursor),
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
    const { text, cursor } = port.snapshot();
    await this.#generate(
      { modelId: model.id, prompt: this.template.prompt, memory: '', params: this.params.request(template.params), documentId: this.documents.id },
      { kind: 'template', name: template.name },
      text.slice(0, cursor),
    );
  }

  /** Inserts the template's few-shot prompt into the document at the cursor (to edit it by hand). */
  insertTemplatePrompt(): void {
    const port = this.#port;
    if (!port || this.template.missing) {
      if (this.template.missing) this.#message = `Fill in the ${this.template.missing} field first.`;
      return;
    }
    port.insert(port.snapshot().cursor, this.template.prompt);
    port.focus();
  }

  /** Retry: the same request for the same place again, with a new seed unless it is locked; stale candidates continue afresh. */
  async retry(): Promise<void> {
    const active = this.#active;
    if (!active || active.stale) return this.continue();
    const { seed: _unused, ...params } = active.run.request.params ?? {};
    const locked = this.params.lockedSeed;
    await this.#generate({ ...active.run.request, params: locked !== null ? { ...params, seed: locked } : params }, active.run.source, active.prefix);
  }

  /** Stop: asks the back end to end the open document's generation (what streamed so far stays). */
  async stop(): Promise<void> {
    const active = this.#active;
    if (active?.candidates.running) await this.#cancel(active.run);
  }

  /** Escape: stops a running generation, else dismisses the candidates. Returns whether it did anything. */
  escape(): boolean {
    const active = this.#active;
    if (!active) return false;
    if (active.candidates.running) {
      void this.stop();
      return true;
    }
    this.#suggestions = this.#suggestions.filter((s) => s !== active);
    this.#message = null;
    return true;
  }

  /** Alt+[ / Alt+]: moves the selection. Returns whether there was anything to cycle. */
  cycle(step: number): boolean {
    const active = this.#active;
    if (!active || active.stale || active.candidates.cards.length < 2) return false;
    this.#replace(active, { ...active, candidates: active.candidates.cycle(step) });
    return true;
  }

  /** Selects a card (click). */
  select(index: number): void {
    const active = this.#active;
    if (active) this.#replace(active, { ...active, candidates: active.candidates.select(index) });
  }

  /**
   * Tab / Accept: inserts the selected candidate at its anchor as one undo step and records it in history.
   * Stale candidates are refused (true: the key was handled, the message says why).
   */
  accept(index?: number): boolean {
    const port = this.#port;
    const active = this.#active;
    if (!port || !active) return false;
    if (active.stale) {
      this.#message = staleMessage;
      return true;
    }
    const set = index === undefined ? active.candidates : active.candidates.select(index);
    const accepted = set.accept();
    if (!accepted) return false;
    const before = port.snapshot().text;
    const at = active.prefix.length;
    const text = active.run.source.kind === 'template' ? cleanTemplateOutput(accepted.text) : accepted.text;
    const record: AcceptRecord = { suggestion: { ...active, candidates: set }, index: accepted.index, before, after: before.slice(0, at) + text + before.slice(at) };
    this.#accepted = [...this.#accepted, record].slice(-maxAcceptRecords);
    this.#undone = this.#undone.filter((r) => !sameDocument(r.suggestion.owner, active.owner));
    this.#suggestions = this.#suggestions.filter((s) => s !== active);
    this.#message = null;
    port.insert(at, text);
    this.#recordAccept(active.run, accepted.index);
    // Accepting mid-stream ends the generation; its `done` still brings the history id.
    if (set.running) void this.#cancel(active.run);
    return true;
  }

  /** A document was deleted: its candidates and accepts go with it. */
  forgetDocument(id: number): void {
    for (const s of this.#suggestions) if (s.owner.id === id && s.candidates.running) void this.#cancel(s.run);
    this.#suggestions = this.#suggestions.filter((s) => s.owner.id !== id);
    this.#accepted = this.#accepted.filter((r) => r.suggestion.owner.id !== id);
    this.#undone = this.#undone.filter((r) => r.suggestion.owner.id !== id);
  }

  /** The text before the anchor decides: unchanged (and the anchor where it was) means fresh. */
  #checkFreshness(text: string): void {
    const active = this.#active;
    if (!active) return;
    const anchor = this.#port?.anchor() ?? null;
    const fresh = anchor === active.prefix.length && text.startsWith(active.prefix);
    if (fresh === !active.stale) return;
    this.#replace(active, { ...active, stale: !fresh });
    if (fresh && this.#message === staleMessage) this.#message = null;
  }

  /** Undo of an accept restores its candidates (and un-marks it in history); redo accepts it again. */
  #checkUndoneAccepts(text: string): void {
    const owner = this.documents.handle;
    const accepted = this.#accepted.findLast((r) => sameDocument(r.suggestion.owner, owner));
    if (accepted && text === accepted.before) {
      this.#accepted = this.#accepted.filter((r) => r !== accepted);
      this.#undone = [...this.#undone, accepted].slice(-maxAcceptRecords);
      const current = this.#active;
      if (current && current.run !== accepted.suggestion.run && current.candidates.running) void this.#cancel(current.run);
      const restored: Suggestion = { ...accepted.suggestion, stale: false };
      this.#suggestions = [restored, ...this.#suggestions.filter((s) => !sameDocument(s.owner, owner))];
      this.#port?.placeAnchor(restored.prefix.length);
      this.#recordAccept(accepted.suggestion.run, null);
      return;
    }
    const undone = this.#undone.findLast((r) => sameDocument(r.suggestion.owner, owner));
    if (undone && text === undone.after) {
      this.#undone = this.#undone.filter((r) => r !== undone);
      this.#accepted = [...this.#accepted, undone].slice(-maxAcceptRecords);
      this.#suggestions = this.#suggestions.filter((s) => s.run !== undone.suggestion.run);
      this.#recordAccept(undone.suggestion.run, undone.index);
    }
  }

  /** A document was loaded into the editor: its own candidates come back if its text is still what they were written for. */
  #onDocumentShown(text: string): void {
    const current = this.documents.handle;
    // An unsaved new document cannot be opened again: whatever it had is gone.
    for (const s of this.#suggestions) if (s.owner.id === null && s.owner !== current && s.candidates.running) void this.#cancel(s.run);
    this.#suggestions = this.#suggestions.filter((s) => s.owner.id !== null || s.owner === current);
    const active = this.#active;
    this.#message = null;
    if (!active) return;
    const fresh = text.startsWith(active.prefix);
    this.#replace(active, { ...active, stale: !fresh });
    if (fresh) this.#port?.placeAnchor(active.prefix.length);
  }

  async #cancel(run: RunContext): Promise<void> {
    run.stopRequested = true;
    if (run.generationId === null) return;
    try {
      await this.#deps.generations.cancel(run.generationId);
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not stop the generation');
    }
  }

  async #generate(request: GenerateRequest, source: GenerationSource, prefix: string): Promise<void> {
    // One generation at a time: a new one stops the running one (whose candidates stay with their document).
    for (const s of this.#suggestions) if (s.candidates.running) void this.#cancel(s.run);
    const owner = this.documents.handle;
    const run: RunContext = { request, source, generationId: null, historyId: null, pendingAccept: null, stopRequested: false, acceptChain: Promise.resolve() };
    const suggestion: Suggestion = {
      owner,
      prefix,
      run,
      candidates: CandidateSet.waiting(request.params.numReturnSequences ?? 3),
      info: runNotStarted(request.modelId),
      stale: false,
    };
    const previous = this.#suggestions.find((s) => sameDocument(s.owner, owner)) ?? null;
    this.#suggestions = [suggestion, ...this.#suggestions.filter((s) => !sameDocument(s.owner, owner))].slice(0, maxSuggestions);
    this.#message = null;
    this.#port?.placeAnchor(prefix.length);
    try {
      run.generationId = await this.#deps.generations.start(request, (event) => this.#onEvent(run, event));
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not start the generation');
      if (ApiError.from(error).kind === 'busy') {
        // Refused before anything ran (the machine is full): no empty cards; the candidates shown before come back.
        this.#suggestions = [...(previous ? [previous] : []), ...this.#suggestions.filter((s) => s !== suggestion && s !== previous)].slice(0, maxSuggestions);
        if (previous) this.#port?.placeAnchor(previous.prefix.length);
        this.#message = 'Inkwell is busy; nothing was generated. Press Continue again when a generation finishes.';
        return;
      }
      this.#mapRun(run, (s) => ({ ...s, candidates: s.candidates.failed(ApiError.from(error).message) }));
      return;
    }
    if (run.stopRequested) void this.#cancel(run);
  }

  #onEvent(run: RunContext, event: GenerationEvent): void {
    switch (event.type) {
      case 'started':
        this.params.noteUsedSeed(event.seed);
        this.#mapRun(run, (s) => ({
          ...s,
          candidates: s.candidates.started(event.numSequences),
          info: { ...s.info, device: event.device, seed: event.seed, promptTokens: event.promptTokens, truncatedPromptTokens: event.truncatedPromptTokens },
        }));
        return;
      case 'delta':
        this.#mapRun(run, (s) => ({ ...s, candidates: s.candidates.withDelta(event.sequence, event.text) }));
        return;
      case 'done': {
        const { result } = event;
        run.historyId = result.historyId;
        this.#deps.onGenerationDone(result);
        if (run.pendingAccept !== null) this.#recordAccept(run, run.pendingAccept);
        this.#mapRun(run, (s) => ({
          ...s,
          candidates: s.candidates.phase === 'idle' ? s.candidates : s.candidates.finished(result),
          info: {
            modelId: result.modelId,
            device: result.device,
            seed: result.seed,
            promptTokens: result.promptTokens,
            truncatedPromptTokens: result.truncatedPromptTokens,
            timings: result.timings,
            deviceFallbackReason: result.deviceFallbackReason ?? null,
          },
        }));
        return;
      }
      case 'error':
        if (event.error.kind === 'cancelled') {
          this.#mapRun(run, (s) => ({ ...s, candidates: s.candidates.stopped() }));
          return;
        }
        this.#mapRun(run, (s) => ({ ...s, candidates: s.candidates.failed(event.error.message) }));
        this.#deps.reporter.reportError(ApiError.from(event.error), 'Generation failed');
    }
  }

  /** Applies an event of `run` to its suggestion and to the accepts that may bring it back. */
  #mapRun(run: RunContext, change: (suggestion: Suggestion) => Suggestion): void {
    if (this.#suggestions.some((s) => s.run === run)) this.#suggestions = this.#suggestions.map((s) => (s.run === run ? change(s) : s));
    for (const record of [...this.#accepted, ...this.#undone]) if (record.suggestion.run === run) record.suggestion = change(record.suggestion);
  }

  #replace(previous: Suggestion, next: Suggestion): void {
    this.#suggestions = this.#suggestions.map((s) => (s === previous ? next : s));
  }

  /** What Continue sends for `text` with the cursor at `cursor`: the document's memory and author's note applied. */
  #compose(text: string, cursor: number): ComposedPrompt {
    return composePrompt({
      memory: this.documents.memory,
      text: text.slice(0, cursor),
      authorsNote: this.documents.authorsNote,
      depth: this.#deps.authorsNoteDepth(),
    });
  }

  /** Marks (or, with null, un-marks) the accepted candidate of `run` in history, in order with earlier marks. */
  #recordAccept(run: RunContext, candidateIndex: number | null): void {
    if (run.historyId === null) {
      run.pendingAccept = candidateIndex;
      return;
    }
    const id = run.historyId;
    run.pendingAccept = null;
    run.acceptChain = run.acceptChain.then(async () => {
      try {
        await this.#deps.api.call('history.accept', { id, candidateIndex });
        this.#deps.onHistoryChanged();
      } catch (error) {
        this.#deps.reporter.reportError(error, 'Could not record the accepted candidate');
      }
    });
  }

  #noModel(): void {
    this.#message = 'No model yet: import one on the Models page.';
    this.#deps.reporter.notify('warning', 'No model is imported yet. Open Models to import one.', 'no-model');
  }
}
