/**
 * The context meter: tokenizes memory and prompt (debounced, latest request
 * wins) and derives how the model's window is split from the token counts.
 */
import { ApiError, type ModelSummary } from '../../../shared/api';
import { isRemoteModelId } from '../../../shared/remote-engines';
import { measureWindow, type WindowUsage } from '../lib/context-meter';
import type { ApiCaller } from './deps';

/** What the meter measures: exactly what Continue would send. */
export interface MeterInput {
  modelId: string;
  memory: string;
  prompt: string;
}

const debounceMs = 450;

/** What ContextMeterState is built from. */
export interface ContextMeterDeps {
  api: ApiCaller;
  /** The model whose window is measured. */
  model: () => ModelSummary | null;
  /** The tokens reserved for the continuation. */
  maxNewTokens: () => number;
}

/** Token counts for the window meter. */
export class ContextMeterState {
  readonly #api: ApiCaller;
  readonly #model: () => ModelSummary | null;
  readonly #maxNewTokens: () => number;
  #memoryTokens = $state(0);
  #promptTokens = $state.raw<string[]>([]);
  #measuredModel = $state<string | null>(null);
  #measuring = $state(false);
  #error = $state<string | null>(null);
  #usage = $derived.by((): WindowUsage | null => {
    const model = this.#model();
    if (!model || this.#measuredModel !== model.id) return null;
    return measureWindow({
      windowSize: model.nPositions,
      memoryTokens: this.#memoryTokens,
      promptTokens: this.#promptTokens,
      maxNewTokens: this.#maxNewTokens(),
    });
  });
  #timer: ReturnType<typeof setTimeout> | null = null;
  #sequence = 0;
  #lastKey = '';
  /** The memory rarely changes while the prompt does at every pause in typing: its count is kept. */
  #memoryCount: { key: string; tokens: number } | null = null;

  constructor(deps: ContextMeterDeps) {
    this.#api = deps.api;
    this.#model = deps.model;
    this.#maxNewTokens = deps.maxNewTokens;
  }

  /** The window split; null until the first measurement for the current model. */
  get usage(): WindowUsage | null {
    return this.#usage;
  }
  get measuring(): boolean {
    return this.#measuring;
  }
  get error(): string | null {
    return this.#error;
  }

  /** Asks for a measurement of `input`; only the last request within the debounce window runs. */
  request(input: MeterInput | null): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (!input) return;
    if (isRemoteModelId(input.modelId)) {
      // A remote model's tokenizer is on its server, which counts nothing before a request.
      this.#measuring = false;
      this.#error = 'token counts need a local model (a remote model counts on its server)';
      return;
    }
    const key = `${input.modelId}\u0000${input.memory}\u0000${input.prompt}`;
    if (key === this.#lastKey) return;
    // The counts shown are for the text as it was until this measurement is in: say so at once, not after the pause.
    this.#measuring = true;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#measure(input, key);
    }, debounceMs);
  }

  /** Stops a pending measurement. */
  cancel(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#measuring = false;
  }

  async #measure(input: MeterInput, key: string): Promise<void> {
    const sequence = ++this.#sequence;
    this.#measuring = true;
    try {
      const memoryKey = `${input.modelId}\u0000${input.memory}`;
      const known = this.#memoryCount?.key === memoryKey ? this.#memoryCount.tokens : null;
      const [memoryTokens, prompt] = await Promise.all([
        known ?? (input.memory.length > 0 ? this.#api.call('tokenize', { modelId: input.modelId, text: input.memory }).then((r) => r.ids.length) : 0),
        input.prompt.length > 0 ? this.#api.call('tokenize', { modelId: input.modelId, text: input.prompt }) : { ids: [], tokens: [] },
      ]);
      this.#memoryCount = { key: memoryKey, tokens: memoryTokens };
      if (sequence !== this.#sequence) return;
      this.#memoryTokens = memoryTokens;
      this.#promptTokens = prompt.tokens;
      this.#measuredModel = input.modelId;
      this.#error = null;
      this.#lastKey = key;
    } catch (error) {
      if (sequence !== this.#sequence) return;
      this.#error = ApiError.from(error).message;
    } finally {
      if (sequence === this.#sequence && this.#timer === null) this.#measuring = false;
    }
  }
}
