/** The Inspect page: the tokens of the current document (or typed text) and the window boundary. */
import { ApiError } from '../../../shared/api';
import type { ApiCaller } from './deps';

/** Where the inspected text comes from. */
export type InspectSource = 'document' | 'custom';

/** Tokens as chips. */
export interface TokenChip {
  index: number;
  id: number;
  text: string;
}

const debounceMs = 400;

/** What InspectState is built from. */
export interface InspectDeps {
  api: ApiCaller;
  /** The open document's text. */
  documentText: () => string;
}

/** Inspect page state. */
export class InspectState {
  readonly #deps: InspectDeps;
  #source = $state<InspectSource>('document');
  #custom = $state('The quick brown fox jumps over the lazy dog. Tokenizers split rare words like "onomatopoeia" into pieces.');
  #chips = $state.raw<TokenChip[]>([]);
  #modelId = $state<string | null>(null);
  #loading = $state(false);
  #error = $state<string | null>(null);
  #text = $derived.by(() => (this.#source === 'document' ? this.#deps.documentText() : this.#custom));
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
  /** The text being inspected. */
  get text(): string {
    return this.#text;
  }
  get chips(): TokenChip[] {
    return this.#chips;
  }
  /** The model whose tokenizer produced the chips. */
  get modelId(): string | null {
    return this.#modelId;
  }
  get loading(): boolean {
    return this.#loading;
  }
  get error(): string | null {
    return this.#error;
  }

  /** Chooses the document or typed text. */
  setSource(source: InspectSource): void {
    this.#source = source;
  }

  /** Edits the typed text. */
  setCustom(text: string): void {
    this.#custom = text;
  }

  /** Tokenizes `text` with `modelId` after a short pause; the latest request wins. */
  request(modelId: string | null, text: string): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (!modelId) {
      this.#chips = [];
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#tokenize(modelId, text);
    }, debounceMs);
  }

  async #tokenize(modelId: string, text: string): Promise<void> {
    const sequence = ++this.#sequence;
    this.#loading = true;
    try {
      const { ids, tokens } = text.length > 0 ? await this.#deps.api.call('tokenize', { modelId, text }) : { ids: [], tokens: [] };
      if (sequence !== this.#sequence) return;
      this.#chips = ids.map((id, index) => ({ index, id, text: tokens[index] ?? '' }));
      this.#modelId = modelId;
      this.#error = null;
    } catch (error) {
      if (sequence !== this.#sequence) return;
      this.#error = ApiError.from(error).message;
    } finally {
      if (sequence === this.#sequence) this.#loading = false;
    }
  }
}
