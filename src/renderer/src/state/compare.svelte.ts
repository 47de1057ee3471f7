/**
 * The Compare page: one prompt, two models (or two devices), the same
 * parameters and the same locked seed, streamed side by side with speed
 * figures and their ratio.
 */
import { ApiError, type GenerationDevice, type DeviceRequest, type GenerationEvent, type GenerationResult, type ModelSummary, type Timings } from '../../../shared/api';
import type { Generations, Reporter } from './deps';
import { randomSeed } from './params.svelte';

/** What one column runs. */
export interface CompareSide {
  modelId: string;
  device: DeviceRequest;
}

/** What one column shows. */
export interface CompareColumn {
  phase: 'idle' | 'running' | 'done' | 'stopped' | 'failed';
  text: string;
  modelId: string;
  device: GenerationDevice | null;
  timings: Timings | null;
  promptTokens: number;
  truncatedPromptTokens: number;
  error: string | null;
}

/** The sampling values both columns share. */
export interface CompareParams {
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
}

const idleColumn = (modelId = ''): CompareColumn => ({
  phase: 'idle',
  text: '',
  modelId,
  device: null,
  timings: null,
  promptTokens: 0,
  truncatedPromptTokens: 0,
  error: null,
});

/** How much faster the left column decoded than the right: tokens/s ratio, or null when either is unknown. */
export function speedRatio(left: Timings | null, right: Timings | null): number | null {
  if (!left || !right || left.tokensPerSecond <= 0 || right.tokensPerSecond <= 0) return null;
  return left.tokensPerSecond / right.tokensPerSecond;
}

/** What CompareState is built from. */
export interface CompareDeps {
  generations: Generations;
  reporter: Reporter;
  /** The imported models. */
  models: () => readonly ModelSummary[];
  /** A generation finished (for the status bar and History). */
  onGenerationDone: (result: GenerationResult) => void;
}

/** Compare page state. */
export class CompareState {
  readonly #deps: CompareDeps;
  #prompt = $state('');
  #chosen = $state.raw<[CompareSide, CompareSide]>([
    { modelId: '', device: 'auto' },
    { modelId: '', device: 'auto' },
  ]);
  #params = $state.raw<CompareParams>({ maxNewTokens: 48, temperature: 0.9, topK: 50, topP: 0.95, repetitionPenalty: 1.1 });
  #seed = $state(randomSeed());
  #columns = $state.raw<[CompareColumn, CompareColumn]>([idleColumn(), idleColumn()]);
  #sides = $derived.by((): [CompareSide, CompareSide] => {
    const models = this.#deps.models();
    const pick = (side: CompareSide, fallback: ModelSummary | undefined): CompareSide => ({
      device: side.device,
      modelId: models.some((m) => m.id === side.modelId) ? side.modelId : (fallback?.id ?? ''),
    });
    return [pick(this.#chosen[0], models[0]), pick(this.#chosen[1], models[1] ?? models[0])];
  });
  #ratio = $derived(speedRatio(this.#columns[0].timings, this.#columns[1].timings));
  #running = $derived(this.#columns.some((c) => c.phase === 'running'));
  #generationIds: [string | null, string | null] = [null, null];
  #round = 0;

  constructor(deps: CompareDeps) {
    this.#deps = deps;
  }

  get prompt(): string {
    return this.#prompt;
  }
  /** The two sides, with missing models replaced by the first imported ones. */
  get sides(): [CompareSide, CompareSide] {
    return this.#sides;
  }
  get params(): CompareParams {
    return this.#params;
  }
  get seed(): number {
    return this.#seed;
  }
  get columns(): [CompareColumn, CompareColumn] {
    return this.#columns;
  }
  /** Left tokens/s over right tokens/s. */
  get ratio(): number | null {
    return this.#ratio;
  }
  get running(): boolean {
    return this.#running;
  }

  setPrompt(prompt: string): void {
    this.#prompt = prompt;
  }

  /** Changes one side's model or device. */
  setSide(index: 0 | 1, patch: Partial<CompareSide>): void {
    const next: [CompareSide, CompareSide] = [...this.#sides];
    next[index] = { ...next[index], ...patch };
    this.#chosen = next;
  }

  /** Changes a shared parameter. */
  setParam(key: keyof CompareParams, value: number): void {
    if (Number.isFinite(value)) this.#params = { ...this.#params, [key]: value };
  }

  /** Sets the shared seed. */
  setSeed(seed: number): void {
    if (Number.isFinite(seed)) this.#seed = Math.min(0xffff_ffff, Math.max(0, Math.round(seed)));
  }

  /** Picks a new random seed. */
  shuffleSeed(): void {
    this.#seed = randomSeed();
  }

  /** Runs the prompt on both sides with the same parameters and seed. */
  async run(): Promise<void> {
    if (this.#running) await this.stop();
    const round = ++this.#round;
    const sides = this.#sides;
    this.#columns = [idleColumn(sides[0].modelId), idleColumn(sides[1].modelId)].map((c) => ({ ...c, phase: 'running' as const })) as [
      CompareColumn,
      CompareColumn,
    ];
    this.#generationIds = [null, null];
    const params = { ...this.#params, numReturnSequences: 1, seed: this.#seed, doSample: true };
    await Promise.all(
      sides.map(async (side, i) => {
        const index = i as 0 | 1;
        if (!side.modelId) {
          this.#patch(index, { phase: 'failed', error: 'No model: import one on the Models page.' });
          return;
        }
        try {
          const id = await this.#deps.generations.start(
            { modelId: side.modelId, prompt: this.#prompt, memory: '', params: { ...params, device: side.device }, documentId: null },
            (event) => {
              if (round === this.#round) this.#onEvent(index, event);
            },
          );
          this.#generationIds[index] = id;
        } catch (error) {
          if (round === this.#round) this.#patch(index, { phase: 'failed', error: ApiError.from(error).message });
        }
      }),
    );
  }

  /** Stops both columns. */
  async stop(): Promise<void> {
    await Promise.all(
      this.#generationIds.map(async (id) => {
        if (id === null) return;
        try {
          await this.#deps.generations.cancel(id);
        } catch (error) {
          this.#deps.reporter.reportError(error, 'Could not stop the comparison');
        }
      }),
    );
  }

  #onEvent(index: 0 | 1, event: GenerationEvent): void {
    switch (event.type) {
      case 'started':
        this.#patch(index, { device: event.device, promptTokens: event.promptTokens, truncatedPromptTokens: event.truncatedPromptTokens });
        return;
      case 'delta':
        if (event.sequence === 0) this.#patch(index, { text: this.#columns[index].text + event.text });
        return;
      case 'done': {
        const first = event.result.sequences[0];
        this.#deps.onGenerationDone(event.result);
        this.#patch(index, {
          phase: first?.finishReason === 'cancelled' ? 'stopped' : 'done',
          text: first?.text ?? this.#columns[index].text,
          device: event.result.device,
          timings: event.result.timings,
        });
        return;
      }
      case 'error':
        this.#patch(index, event.error.kind === 'cancelled' ? { phase: 'stopped' } : { phase: 'failed', error: event.error.message });
        if (event.error.kind !== 'cancelled') this.#deps.reporter.reportError(ApiError.from(event.error), 'Comparison failed');
    }
  }

  #patch(index: 0 | 1, patch: Partial<CompareColumn>): void {
    const next: [CompareColumn, CompareColumn] = [...this.#columns];
    next[index] = { ...next[index], ...patch };
    this.#columns = next;
  }
}
