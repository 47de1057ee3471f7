/**
 * The two implementations under test behind one interface: Inkwell's Engine and
 * @huggingface/transformers, both on the same stored onnx/model.onnx, on the CPU.
 */
import { AutoModelForCausalLM, AutoTokenizer, BaseStreamer, env, Tensor as HfTensor } from '@huggingface/transformers';
import type { PreTrainedModel, PreTrainedTokenizer, TextStreamer } from '@huggingface/transformers';
import { join } from 'node:path';
import { Engine } from '../src/main/engine';
import { GenerationParams } from '../src/shared/api';
import type { DraftOutcome, Implementation, LoadSpec, RunSpec } from './protocol';

/** What one timed generation returns besides its wall time. */
export interface RunOutput {
  promptTokens: number;
  tokens: number[][];
  /**
   * The implementation's own split: prefill up to the first token's logits, and decode from
   * there to the last token (Inkwell: Engine timings; transformers.js: streamer timestamps).
   */
  split: { prefillMs: number; decodeMs: number };
  /** How the draft did, on speculative runs (for them decodeMs includes the draft's steps). */
  speculative?: DraftOutcome;
}

/** A loaded implementation. */
export interface Runner {
  /** Loads the model (and tokenizer) in the given precision; resolves to the load time in ms. */
  load(spec: LoadSpec): Promise<number>;
  run(spec: RunSpec): Promise<RunOutput>;
}

/** The sampling settings both sides use when a run samples (HF defaults but no top-p). */
const SAMPLING = { temperature: 1, topK: 50 } as const;

class InkwellRunner implements Runner {
  #engine: Engine | undefined;
  #modelId = '';

  async load({ home, modelId, precision }: LoadSpec): Promise<number> {
    this.#engine = new Engine({ home, precision });
    this.#modelId = modelId;
    // The Engine loads lazily on first use and reports the load time of that request.
    const first = await this.#engine.generate({ modelId, prompt: ' Hello', params: params({ k: 1, newTokens: 1, sample: false, seed: 0 }) });
    return first.timings.loadMs;
  }

  async run(spec: RunSpec): Promise<RunOutput> {
    if (!this.#engine) throw new Error('inkwell runner: run before load');
    const speculative = spec.speculative
      ? { draftModelId: this.#modelId, draftPrecision: spec.speculative.draftPrecision, draftTokens: spec.speculative.draftTokens }
      : undefined;
    const result = await this.#engine.generate({ modelId: this.#modelId, prompt: spec.prompt, params: params(spec), ...(speculative ? { speculative } : {}) });
    if (spec.speculative && !result.speculative) throw new Error('inkwell runner: a speculative run came back without draft statistics');
    return {
      promptTokens: result.promptTokens,
      tokens: result.sequences.map((s) => s.tokenIds),
      split: { prefillMs: result.timings.prefillMs, decodeMs: result.timings.decodeMs },
      ...(result.speculative ? { speculative: { acceptanceRate: result.speculative.acceptanceRate, targetPasses: result.speculative.targetPasses } } : {}),
    };
  }
}

function params(spec: Pick<RunSpec, 'k' | 'newTokens' | 'sample' | 'seed'>): GenerationParams {
  return GenerationParams.parse({
    maxNewTokens: spec.newTokens,
    numReturnSequences: spec.k,
    doSample: spec.sample,
    temperature: SAMPLING.temperature,
    topK: SAMPLING.topK,
    topP: 1,
    repetitionPenalty: 1,
    seed: spec.seed,
    device: 'cpu',
  });
}

class TransformersRunner implements Runner {
  #model: PreTrainedModel | undefined;
  #tokenizer: PreTrainedTokenizer | undefined;

  async load({ home, modelId, subfolder }: LoadSpec): Promise<number> {
    env.localModelPath = join(home, 'models');
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    const started = performance.now();
    [this.#model, this.#tokenizer] = await Promise.all([
      // Every Inkwell variant keeps float32 inputs, outputs and KV cache, so it loads as dtype fp32
      // from its own folder (onnx/<precision>/model.onnx): the same file Inkwell runs.
      AutoModelForCausalLM.from_pretrained(modelId, { dtype: 'fp32', device: 'cpu', subfolder }),
      AutoTokenizer.from_pretrained(modelId),
    ]);
    return performance.now() - started;
  }

  async run(spec: RunSpec): Promise<RunOutput> {
    if (!this.#model || !this.#tokenizer) throw new Error('transformers.js runner: run before load');
    // transformers.js (4.3.1) has no assisted or speculative generation: its generate() takes no draft model.
    if (spec.speculative) throw new Error('transformers.js runner: speculative decoding is measured for Inkwell only');
    const ids = this.#tokenizer.encode(spec.prompt, { add_special_tokens: false });
    const n = ids.length;
    // transformers.js has no "prefill once, K continuations": K sequences are K copies of the prompt.
    const flat = new BigInt64Array(spec.k * n);
    for (let row = 0; row < spec.k; row++) ids.forEach((id, i) => (flat[row * n + i] = BigInt(id)));
    const clock = new StepClock();
    const out = await this.#model.generate({
      // The typings intersect BaseStreamer with TextStreamer; generate() only calls put() and end().
      streamer: clock as unknown as TextStreamer,
      input_ids: new HfTensor('int64', flat, [spec.k, n]),
      attention_mask: new HfTensor('int64', new BigInt64Array(spec.k * n).fill(1n), [spec.k, n]),
      max_new_tokens: spec.newTokens,
      do_sample: spec.sample,
      temperature: SAMPLING.temperature,
      top_k: SAMPLING.topK,
      top_p: 1,
      repetition_penalty: 1,
    });
    const sequences = (out as HfTensor).tolist() as bigint[][];
    return { promptTokens: n, tokens: sequences.map((row) => row.slice(n).map(Number)), split: clock.split() };
  }
}

/**
 * Timestamps from generate()'s streamer calls: put() gets the prompt first, then each step's
 * tokens right after they are chosen; end() comes after the last. So prefill = start → first
 * token chosen (like Inkwell's prefillMs, plus that one choice), decode = first token → end.
 */
class StepClock extends BaseStreamer {
  readonly #start = performance.now();
  #puts: number[] = [];
  #end = Number.NaN;

  override put(): void {
    this.#puts.push(performance.now());
  }

  override end(): void {
    this.#end = performance.now();
  }

  split(): { prefillMs: number; decodeMs: number } {
    const first = this.#puts[1] ?? Number.NaN;
    return { prefillMs: first - this.#start, decodeMs: this.#end - first };
  }
}

/** The runner for `implementation`. */
export function createRunner(implementation: Implementation): Runner {
  return implementation === 'inkwell' ? new InkwellRunner() : new TransformersRunner();
}
