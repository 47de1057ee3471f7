/**
 * The Inspect page (issue 8): how a model reads a text. The text comes from the open document, the
 * prompt actually sent (Memory and Author's Note included), typed text, or was opened from an editor
 * selection, a candidate or a history entry. One inspect pass runs over the last window's tokens;
 * each view then fetches only its own compact payload (one layer of float16 attention, the uint8
 * overview, one lens layer, the positional matrices) when it is first shown, and keeps it.
 */
import { ApiError, type Candidate, type GenerationParams, type MethodResponse } from '../../../shared/api';
import { halfValues, type AttentionLayer, type AttentionOverview, type Gpt2Tokens, type InspectSummary, type LensLayer, type NextTokenProbabilities, type PositionalEncodings, type TopToken, type WordPieceTokens } from '../../../shared/inspect';
import { isRemoteModelId } from '../../../shared/remote-engines';
import { CandidateSet } from '../lib/candidates';
import { visibleToken } from '../lib/token-display';
import type { ApiCaller, Generations, Reporter } from './deps';

/** Where the inspected text comes from. */
export type InspectSource = 'document' | 'sent' | 'custom' | 'opened';

/** The views of the panel. */
export type InspectView = 'tokens' | 'head' | 'model' | 'probs' | 'lens' | 'positional';

/** A text opened from elsewhere in the app. */
export interface OpenedText {
  /** What it is, for the header ("Selection", "Candidate 2", "History entry 14"). */
  label: string;
  text: string;
  /** Where the generated part starts (characters), when it is a candidate's or history entry's text. */
  generatedFrom?: number;
  /** The generated tokens and each one's log-probability as the sampler saw it (kept with candidates and history). */
  generated?: { tokenIds: readonly number[]; tokenLogprobs: readonly number[] };
}

/** A generation's own tokens coloured by the probabilities kept with it. */
export interface StoredProbabilities {
  chips: Gpt2Tokens['tokens'];
  logprobs: readonly number[];
}

/** What InspectState is built from. */
export interface InspectDeps {
  api: ApiCaller;
  generations: Generations;
  reporter: Reporter;
  /** The open document's text. */
  documentText: () => string;
  /** What Continue would send for the whole document: memory + text with the author's note. */
  sentPrompt: () => string;
  /** The chosen model and parameters (a branch is generated with them). */
  modelId: () => string | null;
  /** The local models' ids: what a remote model's text can be inspected with instead. */
  localModels: () => readonly string[];
  params: () => GenerationParams;
  /** Shows the Inspect page. */
  show: () => void;
}

/** A branch: the text up to a token plus another choice there, continued as new candidates. */
export interface Branch {
  prefix: string;
  token: string;
  candidates: CandidateSet;
}

/** The sequence of chip ids a text's tokens come down to (the last `window` are inspected). */
export function windowIds(tokens: Pick<Gpt2Tokens, 'tokenIds' | 'window'>): number[] {
  return tokens.tokenIds.slice(Math.max(0, tokens.tokenIds.length - tokens.window));
}

/** A probability as a colour from red (unlikely) through amber to green (likely); log-scaled so 1% and 10% differ. */
export function probabilityColour(logprob: number): string {
  const p = Math.exp(logprob);
  const t = Math.max(0, Math.min(1, 1 + Math.log10(Math.max(p, 1e-4)) / 4));
  return `hsl(${Math.round(t * 120)} 75% 50% / 0.38)`;
}

/** Inspect page state. */
export class InspectState {
  readonly #deps: InspectDeps;
  #source = $state<InspectSource>('document');
  #custom = $state('I read a good novel. The lighthouse keeper climbed the stairs, because that was what you did.');
  #opened = $state.raw<OpenedText | null>(null);
  #view = $state<InspectView>('tokens');
  #text = $derived.by(() => {
    switch (this.#source) {
      case 'document':
        return this.#deps.documentText();
      case 'sent':
        return this.#deps.sentPrompt();
      case 'custom':
        return this.#custom;
      case 'opened':
        return this.#opened?.text ?? '';
    }
  });

  #tokens = $state.raw<Gpt2Tokens | null>(null);
  #wordPiece = $state.raw<WordPieceTokens | null>(null);
  #summary = $state.raw<InspectSummary | null>(null);
  #probs = $state.raw<NextTokenProbabilities | null>(null);
  #attention = $state.raw<AttentionLayer | null>(null);
  #overview = $state.raw<AttentionOverview | null>(null);
  #lens = $state.raw<LensLayer | null>(null);
  #positional = $state.raw<PositionalEncodings | null>(null);
  #layer = $state(0);
  #lensLayer = $state(0);
  #heads = $state.raw<readonly number[]>([0]);
  #loading = $state<string | null>(null);
  #error = $state<string | null>(null);
  #branch = $state.raw<Branch | null>(null);
  #stored = $state.raw<StoredProbabilities | null>(null);
  #localPick = $state<string | null>(null);
  #storedNote = $state<string | null>(null);
  #tokenizedKey = '';
  #passKey = '';
  #sequence = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(deps: InspectDeps) {
    this.#deps = deps;
  }

  get source(): InspectSource {
    return this.#source;
  }
  get custom(): string {
    return this.#custom;
  }
  get opened(): OpenedText | null {
    return this.#opened;
  }
  get view(): InspectView {
    return this.#view;
  }
  /** The text being inspected. */
  get text(): string {
    return this.#text;
  }
  get tokens(): Gpt2Tokens | null {
    return this.#tokens;
  }
  get wordPiece(): WordPieceTokens | null {
    return this.#wordPiece;
  }
  get summary(): InspectSummary | null {
    return this.#summary;
  }
  get probs(): NextTokenProbabilities | null {
    return this.#probs;
  }
  get attention(): AttentionLayer | null {
    return this.#attention;
  }
  get overview(): AttentionOverview | null {
    return this.#overview;
  }
  get lens(): LensLayer | null {
    return this.#lens;
  }
  get positional(): PositionalEncodings | null {
    return this.#positional;
  }
  get layer(): number {
    return this.#layer;
  }
  get lensLayer(): number {
    return this.#lensLayer;
  }
  /** Heads drawn in the head view, in order. */
  get heads(): readonly number[] {
    return this.#heads;
  }
  /** What is being fetched now, in words; null when nothing is. */
  get loading(): string | null {
    return this.#loading;
  }
  get error(): string | null {
    return this.#error;
  }
  get branch(): Branch | null {
    return this.#branch;
  }
  /** The chosen (Write page) model when it is a remote one, else null. */
  get remoteModel(): string | null {
    const id = this.#deps.modelId();
    return id !== null && isRemoteModelId(id) ? id : null;
  }

  /** The model the views run on: the chosen one, or for a remote one the local model picked instead (null until one is). */
  get modelId(): string | null {
    if (this.remoteModel === null) return this.#deps.modelId();
    return this.#localPick !== null && this.#deps.localModels().includes(this.#localPick) ? this.#localPick : null;
  }

  /** The local models offered in place of a remote one. */
  get localModels(): readonly string[] {
    return this.#deps.localModels();
  }

  /** Why nothing can be inspected with the chosen model, naming it, or null (a local model, or a local one picked instead). */
  get remoteMessage(): string | null {
    const remote = this.remoteModel;
    return remote !== null && this.modelId === null ? remoteModelMessage(remote, this.#deps.localModels()) : null;
  }

  /** Inspects with local model `id` while the chosen model is remote. */
  useLocalModel(id: string): void {
    this.#localPick = id;
  }

  /** Chooses where the text comes from. */
  setSource(source: InspectSource): void {
    if (source === 'opened' && !this.#opened) return;
    this.#source = source;
  }

  /** Edits the typed text. */
  setCustom(text: string): void {
    this.#custom = text;
  }

  /** Shows a view and fetches what it needs. */
  setView(view: InspectView): void {
    this.#view = view;
    void this.#loadView();
  }

  /** Opens `opened` in the panel (from a selection, a candidate or a history entry) and shows the page. */
  open(opened: OpenedText, view: InspectView = 'head'): void {
    this.#opened = opened;
    this.#source = 'opened';
    this.#view = view;
    this.#deps.show();
  }

  /** Opens a candidate: the prompt it was written for (memory included) followed by its text. */
  openGeneration(
    label: string,
    parts: {
      /** The model that wrote it, where known: a remote one without probabilities is said to have sent none. */
      modelId?: string;
      memory: string;
      prompt: string;
      candidate: Pick<Candidate, 'text'> & { tokenIds?: readonly number[]; tokenLogprobs?: readonly number[] | undefined; tokenTexts?: readonly string[] | undefined };
    },
  ): void {
    const before = parts.memory + parts.prompt;
    const { tokenIds, tokenLogprobs, tokenTexts } = parts.candidate;
    const generated = tokenIds && tokenLogprobs && tokenIds.length === tokenLogprobs.length && tokenIds.length > 0 ? { tokenIds, tokenLogprobs } : undefined;
    this.open({ label, text: before + parts.candidate.text, generatedFrom: before.length, ...(generated ? { generated } : {}) }, 'probs');
    this.#stored = null;
    this.#storedNote = null;
    if (tokenTexts && tokenLogprobs && tokenTexts.length === tokenLogprobs.length && tokenTexts.length > 0) {
      // A remote server's own tokens: shown as it split them, no tokenizer needed.
      this.#stored = { chips: tokenTexts.map((text, k) => ({ id: tokenIds?.[k] ?? 0, text, label: visibleToken(text), bytes: hexBytes(text) })), logprobs: tokenLogprobs };
      return;
    }
    if (parts.modelId !== undefined && isRemoteModelId(parts.modelId) && !generated) {
      this.#storedNote = `${parts.modelId} is a remote model, and this server returned no token probabilities for this candidate.`;
      return;
    }
    const modelId = this.#deps.modelId();
    if (generated && modelId && !isRemoteModelId(modelId)) {
      const opened = this.#opened;
      // The chips of the ids as generated: the tokenizer only, no pass.
      void this.#deps.api.call('inspect.tokens', { modelId, tokenIds: [...generated.tokenIds] }).then(
        (tokens) => {
          if (this.#opened === opened) this.#stored = { chips: tokens.tokens, logprobs: generated.tokenLogprobs };
        },
        (error: unknown) => this.#deps.reporter.reportError(error, 'Could not show the stored probabilities'),
      );
    }
  }

  /** Why an opened remote candidate has no stored probabilities ("this server returned no token probabilities"), or null. */
  get storedNote(): string | null {
    return this.#source === 'opened' ? this.#storedNote : null;
  }

  /** The opened generation's own tokens with the probabilities kept with it (no pass needed). */
  get stored(): StoredProbabilities | null {
    return this.#source === 'opened' ? this.#stored : null;
  }

  /** Chooses the layer of the head view. */
  setLayer(layer: number): void {
    this.#layer = layer;
    void this.#loadView();
  }

  /** Chooses the layer of the logit lens. */
  setLensLayer(layer: number): void {
    this.#lensLayer = layer;
    void this.#loadView();
  }

  /** Turns one head on or off in the head view (at least one stays on). */
  toggleHead(head: number): void {
    if (!this.#heads.includes(head)) this.#heads = [...this.#heads, head].sort((a, b) => a - b);
    else if (this.#heads.length > 1) this.#heads = this.#heads.filter((h) => h !== head);
  }

  /** Shows every head, or only the first when all are shown. */
  toggleAllHeads(): void {
    const heads = this.#summary?.heads ?? 1;
    this.#heads = this.#heads.length === heads ? [0] : Array.from({ length: heads }, (_, h) => h);
  }

  /** Opens one layer × head of the model view in the head view. */
  openHead(layer: number, head: number): void {
    this.#heads = [head];
    this.#view = 'head';
    this.setLayer(layer);
  }

  /** Tokenizes the text after a short pause (the latest request wins), then loads the current view. */
  request(modelId: string | null, text: string): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (!modelId) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#refresh(modelId, text);
    }, 300);
  }

  /** Generates a branch: the text up to token `position` (exclusive) plus `alternative`, continued as new candidates. */
  async branchAt(position: number, alternative: TopToken): Promise<void> {
    const modelId = this.#deps.modelId();
    const chips = this.#summary?.tokens;
    if (!modelId || !chips) return;
    const prefix = chips.slice(0, position).map((t) => t.text ?? t.group?.text ?? '').join('');
    const prompt = prefix + alternative.token;
    const params = this.#deps.params();
    this.#branch = { prefix, token: alternative.token, candidates: CandidateSet.waiting(params.numReturnSequences) };
    const token = this.#branch;
    const update = (change: (set: CandidateSet) => CandidateSet): void => {
      if (this.#branch?.prefix === token.prefix && this.#branch.token === token.token) this.#branch = { ...this.#branch, candidates: change(this.#branch.candidates) };
    };
    try {
      await this.#deps.generations.start({ modelId, prompt, memory: '', params }, (event) => {
        if (event.type === 'started') update((c) => c.started(event.numSequences));
        else if (event.type === 'delta') update((c) => c.withDelta(event.sequence, event.text));
        else if (event.type === 'done') update((c) => c.finished(event.result));
        else if (event.type === 'error') update((c) => (event.error.kind === 'cancelled' ? c.stopped() : c.failed(event.error.message)));
      });
    } catch (error) {
      update((c) => c.failed(ApiError.from(error).message));
      this.#deps.reporter.reportError(error, 'Could not start the branch');
    }
  }

  /** Installs BERT's tokenizer from a folder on the back end's machine, then shows the text's WordPiece tokens. */
  async importBertTokenizer(folder: string): Promise<void> {
    try {
      await this.#deps.api.call('inspect.importBertTokenizer', { path: folder.trim() });
      this.#wordPiece = await this.#deps.api.call('inspect.wordpiece', { text: this.#text });
      this.#deps.reporter.notify('info', 'BERT tokenizer imported.', 'bert-import');
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not import the BERT tokenizer');
    }
  }

  /** What the current view shows, as plain data for a JSON export. */
  exportData(): { name: string; data: unknown } {
    const base = { modelId: this.#summary?.modelId ?? this.#tokens?.modelId, text: this.#text };
    const summary = this.#summary;
    const tokens = summary?.tokens.map((t) => t.text ?? t.label) ?? [];
    switch (this.#view) {
      case 'tokens':
        return { name: 'tokens', data: { ...base, gpt2: this.#tokens, bert: this.#wordPiece } };
      case 'head': {
        const a = this.#attention;
        if (!a) return { name: 'attention', data: base };
        const heads = [...this.#heads];
        const values = halfValues();
        const rows = (h: number) => Array.from({ length: a.seqLen }, (_, i) => Array.from({ length: i + 1 }, (_, j) => round(values[a.data[h * tri(a.seqLen) + tri(i) + j] as number] as number)));
        // attentions[head][i][j] for j ≤ i (the causal lower triangle; everything above it is 0).
        return { name: `attention-layer${a.layer}`, data: { ...base, tokens, token_ids: summary?.tokenIds, layer: a.layer, heads, attentions: heads.map(rows) } };
      }
      case 'model': {
        const o = this.#overview;
        return { name: 'attention-overview', data: o ? { ...base, tokens, layers: o.layers, heads: o.heads, size: o.size, blockStarts: o.blockStarts, cells: Array.from(o.data) } : base };
      }
      case 'probs':
        return { name: 'probabilities', data: { ...base, tokens, token_ids: summary?.tokenIds, positions: this.#probs?.positions, next: this.#probs?.next } };
      case 'lens': {
        const l = this.#lens;
        return { name: `lens-layer${this.#lensLayer}`, data: l ? { ...base, tokens, layer: l.layer, k: l.k, topIds: Array.from(l.topIds), topLogprobs: Array.from(l.topLogprobs, round), nextLogprobs: Array.from(l.nextLogprobs, round), vocabulary: l.vocabulary } : base };
      }
      case 'positional': {
        const p = this.#positional;
        if (!p) return { name: 'positional', data: base };
        const matrix = (m: PositionalEncodings['learned']['values']) => ({ rows: m.rows, cols: m.cols, values: Array.from(m.data, (bits) => round(halfValues()[bits] as number)) });
        return {
          name: 'positional-encodings',
          data: { modelId: base.modelId, positions: p.positions, dims: p.dims, similarityPositions: p.similarityPositions, sinusoidal: { values: matrix(p.sinusoidal.values), similarity: matrix(p.sinusoidal.similarity) }, learned: { values: matrix(p.learned.values), similarity: matrix(p.learned.similarity) } },
        };
      }
    }
  }

  async #refresh(modelId: string, text: string): Promise<void> {
    const key = `${modelId}\u0000${text}`;
    if (key === this.#tokenizedKey && this.#tokens) return this.#loadView();
    const sequence = ++this.#sequence;
    this.#error = null;
    if (text.length === 0) {
      this.#tokens = null;
      this.#summary = null;
      return;
    }
    try {
      this.#loading = 'Tokenizing…';
      const [tokens, wordPiece] = await Promise.all([
        this.#deps.api.call('inspect.tokens', { modelId, text }),
        this.#deps.api.call('inspect.wordpiece', { text }).catch((error: unknown): WordPieceTokens => ({ available: false, message: ApiError.from(error).message, pullName: 'bert-base-uncased' })),
      ]);
      if (sequence !== this.#sequence) return;
      this.#tokens = tokens;
      this.#wordPiece = wordPiece;
      this.#tokenizedKey = key;
      this.#summary = null;
      this.#probs = null;
      this.#attention = null;
      this.#overview = null;
      this.#lens = null;
      this.#passKey = '';
    } catch (error) {
      if (sequence === this.#sequence) this.#error = ApiError.from(error).message;
      return;
    } finally {
      if (sequence === this.#sequence) this.#loading = null;
    }
    await this.#loadView();
  }

  /** Runs the pass if the view needs it, then fetches the view's payload. */
  async #loadView(): Promise<void> {
    const tokens = this.#tokens;
    const view = this.#view;
    if (!tokens || view === 'tokens' || this.remoteMessage) return;
    const sequence = this.#sequence;
    const target = { modelId: tokens.modelId, tokenIds: windowIds(tokens) };
    const stillCurrent = (): boolean => sequence === this.#sequence && this.#tokens === tokens;
    try {
      if (view === 'positional') {
        if (this.#positional?.nPositions !== tokens.window || this.#positionalModel !== tokens.modelId) {
          this.#loading = 'Reading the position embeddings…';
          const positional = await this.#deps.api.call('inspect.positional', { modelId: tokens.modelId, maxPositions: 256, maxDims: 256, maxSimilarityPositions: 256 });
          if (!stillCurrent()) return;
          this.#positional = positional;
          this.#positionalModel = tokens.modelId;
        }
        return;
      }
      if (target.tokenIds.length === 0) return;
      const passKey = `${target.modelId}\u0000${target.tokenIds.join(',')}`;
      if (this.#passKey !== passKey) {
        this.#loading = `Running the inspect pass over ${target.tokenIds.length.toLocaleString()} tokens…`;
        const summary = await this.#deps.api.call('inspect.run', { target });
        if (!stillCurrent()) return;
        this.#summary = summary;
        this.#passKey = passKey;
        if (this.#layer >= summary.layers) this.#layer = 0;
        if (this.#lensLayer >= summary.layers) this.#lensLayer = summary.layers - 1;
        if (this.#heads.some((h) => h >= summary.heads)) this.#heads = [0];
      }
      const summary = this.#summary as InspectSummary;
      if (view === 'head' && this.#attention?.layer !== this.#layer) {
        this.#loading = `Fetching layer ${this.#layer + 1}…`;
        const attention = await this.#deps.api.call('inspect.attention', { target, layer: this.#layer });
        if (stillCurrent()) this.#attention = attention;
      } else if (view === 'model' && !this.#overview) {
        this.#loading = `Fetching ${summary.layers} × ${summary.heads} heads…`;
        const overview = await this.#deps.api.call('inspect.overview', { target, size: 32 });
        if (stillCurrent()) this.#overview = overview;
      } else if (view === 'probs' && !this.#probs) {
        this.#loading = 'Reading the probabilities…';
        const probs = await this.#deps.api.call('inspect.probs', { target });
        if (stillCurrent()) this.#probs = probs;
      } else if (view === 'lens' && this.#lens?.layer !== this.#lensLayer) {
        this.#loading = `Reading layer ${this.#lensLayer + 1} through the output head…`;
        const lens: MethodResponse<'inspect.lens'> = await this.#deps.api.call('inspect.lens', { target, layer: this.#lensLayer, k: 5 });
        if (stillCurrent()) this.#lens = lens;
      }
    } catch (error) {
      if (stillCurrent()) this.#error = ApiError.from(error).message;
    } finally {
      if (stillCurrent()) this.#loading = null;
    }
  }

  #positionalModel = '';
}

/**
 * What the Inspect page says when the chosen model is remote. Attention and hidden states never
 * leave a remote server (the completions API sends text and at most log-probabilities), so every
 * view needs a local model; the page offers the local models instead of failing each view.
 */
export function remoteModelMessage(remoteId: string, localModels: readonly string[]): string {
  const why = `${remoteId} is a remote model: its server sends back only text, so attention, the logit lens, the positional encodings and the per-token probabilities of the inspect pass need a local model.`;
  return localModels.length > 0 ? `${why} Inspect the text with a local model instead:` : `${why} Import a model on the Models page to inspect text.`;
}

const tri = (n: number): number => (n * (n + 1)) / 2;
const round = (x: number): number => Math.round(x * 1e5) / 1e5;

/** A text's UTF-8 bytes in hex, as a token chip shows them ("20 77 61 73"). */
function hexBytes(text: string): string {
  return Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, '0')).join(' ');
}
