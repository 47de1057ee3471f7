/**
 * The parameters panel: model choice, sampling values, greedy decoding, and
 * the seed. Values persist to settings.generation (debounced) so the next
 * session starts where this one left off.
 *
 * The seed is either random (each run picks one; the one used is shown
 * afterwards) or locked (every run uses the locked one, so Retry reproduces
 * the candidates). Only a locked seed can be typed, so the field never shows
 * a number that is then not used.
 */
import { GenerationParams as ParamsSchema, type DeviceRequest, type GenerationParams, type ModelSummary, type PrecisionRequest } from '../../../shared/api';
import { Autosaver } from '../lib/autosave';
import { creativePresets, type PresetParams } from '../lib/presets';
import type { ApiCaller } from './deps';

/** The numeric fields of the panel. */
export type NumericParam = 'maxNewTokens' | 'numReturnSequences' | 'temperature' | 'topK' | 'topP' | 'repetitionPenalty' | 'noRepeatNgramSize';

/** Range and step of each numeric field (the contract's limits, narrowed where larger values make no sense for GPT-2). */
export const numericParams: Record<NumericParam, { label: string; min: number; max: number; step: number; integer: boolean; hint: string }> = {
  maxNewTokens: { label: 'Max new tokens', min: 1, max: 1024, step: 1, integer: true, hint: 'Length of each candidate.' },
  numReturnSequences: { label: 'Candidates', min: 1, max: 8, step: 1, integer: true, hint: 'How many continuations to offer (1–8).' },
  temperature: { label: 'Temperature', min: 0.01, max: 2, step: 0.05, integer: false, hint: 'Higher is more surprising; 0 means greedy decoding.' },
  topK: { label: 'Top-k', min: 0, max: 50257, step: 1, integer: true, hint: '0 turns top-k off.' },
  topP: { label: 'Top-p', min: 0.05, max: 1, step: 0.01, integer: false, hint: '1 turns nucleus sampling off.' },
  repetitionPenalty: { label: 'Repetition penalty', min: 1, max: 2, step: 0.01, integer: false, hint: '1 means no penalty.' },
  noRepeatNgramSize: { label: 'No-repeat n-gram size', min: 0, max: 32, step: 1, integer: true, hint: 'Never repeat a phrase of this many tokens; 0 turns it off.' },
};

/** The fields that only matter when sampling (greedy decoding ignores them). */
export const samplingOnly: readonly NumericParam[] = ['temperature', 'topK', 'topP'];

/** Clamps and rounds a field's value into its range; NaN falls back to `fallback`. */
export function clampParam(key: NumericParam, value: number, fallback: number): number {
  const spec = numericParams[key];
  if (!Number.isFinite(value)) return fallback;
  const rounded = spec.integer ? Math.round(value) : Math.round(value * 1000) / 1000;
  return Math.min(spec.max, Math.max(spec.min, rounded));
}

const defaults: GenerationParams = ParamsSchema.parse({});

/** A random unsigned 32-bit seed. */
export function randomSeed(): number {
  const buffer = new Uint32Array(1);
  globalThis.crypto.getRandomValues(buffer);
  return buffer[0] ?? 0;
}

/** What ParamsState is built from. */
export interface ParamsDeps {
  api: ApiCaller;
  /** Parameters a model starts with when it is chosen (the Models page's per-model defaults). */
  modelDefaults?: (id: string) => Partial<GenerationParams>;
  /** The imported models. */
  models: () => readonly ModelSummary[];
  /** The model settings name as the default. */
  defaultModelId: () => string | null;
  /** The writer chose a model (to become the default for next time). */
  onChooseModel: (id: string) => void;
}

/** Parameters panel state. */
export class ParamsState {
  readonly #deps: ParamsDeps;
  #values = $state.raw<GenerationParams>({ ...defaults, seed: undefined });
  #lockedSeed = $state<number | null>(null);
  #lastUsedSeed = $state<number | null>(null);
  #chosenModelId = $state<string | null>(null);
  #model = $derived.by((): ModelSummary | null => {
    const models = this.#deps.models();
    return models.find((m) => m.id === this.#chosenModelId) ?? models.find((m) => m.id === this.#deps.defaultModelId()) ?? models[0] ?? null;
  });
  #presetId = $derived(this.#values.doSample ? (creativePresets.find((p) => matchesPreset(this.#values, p.params))?.id ?? null) : null);
  readonly #persist: Autosaver<{ generation: GenerationParams }>;

  constructor(deps: ParamsDeps) {
    this.#deps = deps;
    this.#persist = new Autosaver({
      delayMs: 800,
      save: async (patch) => {
        await this.#deps.api.call('settings.set', patch);
      },
    });
  }

  /** Current sampling values (seed excluded; see `lockedSeed`). */
  get values(): GenerationParams {
    return this.#values;
  }
  /** True when greedy decoding is on (always the likeliest token; one continuation). */
  get greedy(): boolean {
    return !this.#values.doSample;
  }
  /** The seed every run uses, or null when each run picks a new one. */
  get lockedSeed(): number | null {
    return this.#lockedSeed;
  }
  get seedLocked(): boolean {
    return this.#lockedSeed !== null;
  }
  /** The seed the latest run actually used. */
  get lastUsedSeed(): number | null {
    return this.#lastUsedSeed;
  }
  /** The model that generates (the chosen one, else the default, else the first). */
  get model(): ModelSummary | null {
    return this.#model;
  }
  /** The creative preset the values match, if any. */
  get presetId(): string | null {
    return this.#presetId;
  }

  /** Takes the saved generation defaults. */
  loadSettings(generation: GenerationParams): void {
    this.#values = { ...generation, seed: undefined };
  }

  /** Sets one numeric field (clamped into range); a temperature of 0 or less turns greedy decoding on instead. */
  setNumber(key: NumericParam, value: number): void {
    if (key === 'temperature' && Number.isFinite(value) && value <= 0) {
      this.setGreedy(true);
      return;
    }
    this.#update({ [key]: clampParam(key, value, this.#values[key]) });
  }

  /** Turns greedy decoding on or off. */
  setGreedy(greedy: boolean): void {
    this.#update({ doSample: !greedy });
  }

  /** Sets the stop strings. */
  setStop(stop: string[]): void {
    this.#update({ stop: stop.filter((s) => s.length > 0).slice(0, 8).map((s) => s.slice(0, 64)) });
  }

  /** Chooses the execution device. */
  setDevice(device: DeviceRequest): void {
    this.#update({ device });
  }

  /** Chooses the weight precision ('auto': the engine's default for the device). */
  setPrecision(precision: PrecisionRequest): void {
    this.#update({ precision });
  }

  /** Chooses the model and makes it the default for next time. */
  selectModel(id: string): void {
    this.#chosenModelId = id;
    this.#deps.onChooseModel(id);
    const defaults = this.#deps.modelDefaults?.(id);
    if (defaults && Object.keys(defaults).length > 0) this.#update(defaults);
  }

  /** Applies a creative preset's values (presets sample, so greedy goes off). */
  applyPreset(params: PresetParams): void {
    this.#update({ ...params, doSample: true });
  }

  /** Locks the seed: the one the last run used (to reproduce it), else a new random one. */
  lockSeed(): void {
    this.#lockedSeed = this.#lastUsedSeed ?? randomSeed();
  }

  /** Unlocks the seed: each run picks a new one. */
  unlockSeed(): void {
    this.#lockedSeed = null;
  }

  /** Types the locked seed (ignored while unlocked, where the field is disabled). */
  setSeed(seed: number): void {
    if (this.#lockedSeed === null || !Number.isFinite(seed)) return;
    this.#lockedSeed = Math.min(0xffff_ffff, Math.max(0, Math.round(seed)));
  }

  /** Records the seed a generation used. */
  noteUsedSeed(seed: number): void {
    this.#lastUsedSeed = seed;
  }

  /** The parameters to send: the seed only when locked, one sequence when greedy. */
  request(overrides: PresetParams = {}): GenerationParams {
    const { seed: _unused, ...values } = { ...this.#values, ...overrides };
    const shaped = values.doSample ? values : { ...values, numReturnSequences: 1 };
    return this.#lockedSeed !== null ? { ...shaped, seed: this.#lockedSeed } : shaped;
  }

  #update(patch: Partial<GenerationParams>): void {
    this.#values = { ...this.#values, ...patch };
    const { seed: _unused, ...generation } = this.#values;
    this.#persist.schedule({ generation });
  }
}

function matchesPreset(values: GenerationParams, params: PresetParams): boolean {
  return (Object.keys(params) as (keyof PresetParams)[]).every((key) => {
    const want = params[key];
    const have = values[key];
    return Array.isArray(want) && Array.isArray(have) ? want.join('\u0000') === have.join('\u0000') : want === have;
  });
}
