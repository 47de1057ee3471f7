/**
 * The CompletionsPort of `inkwell serve`: /v1 generations run on the same inference client as the
 * UI's, through the same AdmissionQueue (so the UI and API clients together stay within one bound
 * on sequences and memory), and are not serialized on the way: every admitted request is sent to
 * the inference process at once, where the engine's decode scheduler puts concurrent generations
 * on one model into shared decode steps (issue 12 §3).
 */
import type { GenerationOutcome } from '../../../shared/api';
import type { ServedModelInfo } from '../../../shared/openai/completions';
import type { TokenLogprob } from '../../../shared/openai/logprobs';
import type { InferenceArgs, InferenceResult } from '../../common/inference-protocol';
import type { StoredModelFields } from '../../common/model-summary';
import { estimateGenerationCost, type AdmissionQueue } from '../../inference/admission';
import type { GenerateHandlers } from '../../inference/client';
import type { CompletionJob, CompletionsPort, CompletionSequence } from './port';

/** What the port needs of the inference client (InferenceClient satisfies it). */
export interface InferenceGeneratePort {
  generate(args: InferenceArgs<'generate'>, handlers: GenerateHandlers, signal?: AbortSignal): Promise<InferenceResult<'generate'>>;
}

/** What the port is built from. */
export interface InferenceCompletionsDeps {
  inference: InferenceGeneratePort;
  models: { list(): StoredModelFields[]; get(id: string): StoredModelFields };
  /** The same queue the API service admits the UI's generations through. */
  admission: AdmissionQueue;
}

/** A CompletionsPort over the inference client. */
export function createInferenceCompletionsPort(deps: InferenceCompletionsDeps): CompletionsPort {
  const { inference, models, admission } = deps;
  return {
    async listModels(): Promise<ServedModelInfo[]> {
      return models.list().map((model) => ({
        id: model.id,
        created: Math.floor(Date.parse(model.importedAt) / 1000) || 0,
        ownedBy: 'inkwell',
        contextLength: model.config.nPositions,
      }));
    },

    async complete(job, events, signal) {
      const model = models.get(job.modelId);
      // 'busy' (429) at once when the bound and its queue are full; 'refused' (400) for work that never fits.
      const admitted = admission.enter(estimateGenerationCost(model.config, { prompt: job.prompt, memory: '', params: job.params }), signal);
      try {
        await admitted.admitted;
        const outcome = await inference.generate(generateArgs(job), {
          onStart: (info) => events.onStart({ promptTokens: info.promptTokens }),
          onDelta: (sequence, text) => events.onDelta(sequence, { text }),
        }, signal);
        return { promptTokens: outcome.promptTokens, sequences: outcome.sequences.map((candidate) => sequenceOf(candidate, job)) };
      } finally {
        admitted.release();
      }
    },
  };
}

/** The inference request of a job. */
function generateArgs(job: CompletionJob): InferenceArgs<'generate'> {
  return { modelId: job.modelId, prompt: job.prompt, memory: '', params: job.params };
}

/** One candidate in the port's terms. */
function sequenceOf(candidate: GenerationOutcome['sequences'][number], _job: CompletionJob): CompletionSequence {
  const logprobs: TokenLogprob[] | undefined = undefined;
  return { text: candidate.text, tokenCount: candidate.tokenIds.length, finishReason: candidate.finishReason, ...(logprobs ? { logprobs } : {}) };
}
