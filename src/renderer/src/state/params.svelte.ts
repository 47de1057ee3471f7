/**
 * The parameters panel: model choice, sampling values, seed and its lock.
 * Values persist to settings.generation (debounced) so the next session
 * starts where this one left off.
 */
import { GenerationParams as ParamsSchema, type DeviceRequest, type GenerationParams, type HistoryEntry, type ModelSummary, type Settings } from '../../../shared/api';
import { Autosaver } from '../lib/autosave';
import { creativePresets, type PresetParams } from '../lib/presets';
import type { AppState } from './app.svelte';

/** The numeric fields of the panel. */
export type NumericParam = 'maxNewTokens' | 'numReturnSequences' | 'temperature' | 'topK' | 'topP' | 'repetitionPenalty';

/** Range and step of each numeric field (the contract's limits, narrowed where larger values make no sense for GPT-2). */
export const numericParams: Record<NumericParam, { label: string; min: number; max: number; step: number; integer: boolean; hint: string }> = {
  maxNewTokens: { label: 'Max new tokens', min: 1, max: 1024, step: 1, integer: true, hint: 'Length of each candidate.' },
  numReturnSequences: { label: 'Candidates', min: 1, max: 8, step: 1, integer: true, hint: 'How many continuations to offer (1–8).' },
  temperature: { label: 'Temperature', min: 0.05, max: 2, step: 0.05, integer: false, hint: 'Higher is more surprising.' },
  topK: { label: 'Top-k', min: 0, max: 50257, step: 1, integer: true, hint: '0 turns top-k off.' },
  topP: { label: 'Top-p', min: 0.05, max: 1, step: 0.01, integer: false, hint: '1 turns nucleus sampling off.' },
  repetitionPenalty: { label: 'Repetition penalty', min: 1, max: 2, step: 0.01, integer: false, hint: '1 means no penalty.' },
};

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

/** Parameters panel state. */
export class ParamsState {
  readonly #app: AppState;
  #values = $state.raw<GenerationParams>({ ...defaults, seed: undefined });
  #seed = $state(randomSeed());
  #seedLocked = $state(false);
  #chosenModelId = $state<string | null>(null);
  #model = $derived.by((): ModelSummary | null => {
    const models = this.#app.modelList;
    return (
      models.find((m) => m.id === this.#chosenModelId) ??
      models.find((m) => m.id === this.#app.settings.defaultModelId) ??
      models[0] ??
      null
    );
  });
  #presetId = $derived(creativePresets.find((p) => matchesPreset(this.#values, p.params))?.id ?? null);
  readonly #persist: Autosaver<{ generation: GenerationParams }>;

  constructor(app: AppState) {
    this.#app = app;
    this.#persist = new Autosaver({
      delayMs: 800,
      save: async (patch) => {
        await this.#app.api.call('settings.set', patch);
      },
    });
  }

  /** Current sampling values (seed excluded; see `seed`). */
  get values(): GenerationParams {
    return this.#values;
  }
  /** The seed shown in the field: the locked one, or the last one used. */
  get seed(): number {
    return this.#seed;
  }
  get seedLocked(): boolean {
    return this.#seedLocked;
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
  loadSettings(settings: Settings): void {
    this.#values = { ...settings.generation, seed: undefined };
  }

  /** Sets one numeric field (clamped into range). */
  setNumber(key: NumericParam, value: number): void {
    this.#update({ [key]: clampParam(key, value, this.#values[key]) });
  }

  /** Sets the stop strings. */
  setStop(stop: string[]): void {
    this.#update({ stop: stop.filter((s) => s.length > 0).slice(0, 8).map((s) => s.slice(0, 64)) });
  }

  /** Chooses the execution device. */
  setDevice(device: DeviceRequest): void {
    this.#update({ device });
  }

  /** Chooses the model and makes it the default for next time. */
  selectModel(id: string): void {
    this.#chosenModelId = id;
    void this.#app.updateSettings({ defaultModelId: id });
  }

  /** Applies a preset's values. */
  applyPreset(params: PresetParams): void {
    this.#update(params);
  }

  /** Types a seed (locks it, since a typed seed is meant to be reused). */
  setSeed(seed: number): void {
    if (!Number.isFinite(seed)) return;
    this.#seed = Math.min(0xffff_ffff, Math.max(0, Math.round(seed)));
    this.#seedLocked = true;
  }

  /** Locks or unlocks the seed. */
  setSeedLocked(locked: boolean): void {
    this.#seedLocked = locked;
  }

  /** Shows the seed a generation used, so the user can lock it to reproduce the result. */
  noteUsedSeed(seed: number): void {
    if (!this.#seedLocked) this.#seed = seed;
  }

  /** Takes a history entry's model, parameters and seed (locked, to reproduce it). */
  applyEntry(entry: HistoryEntry): void {
    this.#chosenModelId = entry.modelId;
    this.#values = { ...entry.params, seed: undefined };
    this.#seed = entry.seed;
    this.#seedLocked = true;
  }

  /** The parameters to send: the seed only when locked. */
  request(overrides: PresetParams = {}): GenerationParams {
    const { seed: _unused, ...values } = { ...this.#values, ...overrides };
    return this.#seedLocked ? { ...values, seed: this.#seed } : values;
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
