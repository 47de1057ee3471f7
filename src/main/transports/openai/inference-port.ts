/**
 * The CompletionsPort of `inkwell serve`: /v1 generations run on the same inference client as the
 * UI's, through the same AdmissionQueue (so the UI and API clients together stay within one bound
 * on sequences and memory), and are not serialized on the way: every admitted request is sent to
 * the inference process at once, where the engine's decode scheduler puts concurrent generations
 * on one model into shared decode steps (issue 12 §3).
 */
import type { GenerationOutcome } from '../../../shared/api';
import type { ServedModelInfo } from '../../../shared/openai/completions';
import { OpenAiError } from '../../../shared/openai/errors';
import { LOGPROB_FLOOR, type TokenLogprob } from '../../../shared/openai/logprobs';
import type { InferenceArgs, InferenceResult } from '../../common/inference-protocol';
import type { StoredModelFields } from '../../common/model-summary';
import { estimateGenerationCost, type AdmissionLimits, type AdmissionQueue } from '../../inference/admission';
import type { GenerateHandlers } from '../../inference/client';
import { FairQueue } from './fair-queue';
import type { CompletionJob, CompletionsPort, CompletionSequence } from './port';
import { createOpenAiRoutes, type OpenAiRoutes } from './routes';

/** What the port needs of the inference client (InferenceClient satisfies it). */
export interface InferenceGeneratePort {
  generate(args: InferenceArgs<'generate'>, handlers: GenerateHandlers, signal?: AbortSignal): Promise<InferenceResult<'generate'>>;
  tokenStrings(modelId: string, ids: number[]): Promise<InferenceResult<'tokenStrings'>>;
  tokenize(modelId: string, text: string): Promise<InferenceResult<'tokenize'>>;
  compareScore(args: InferenceArgs<'compareScore'>): Promise<InferenceResult<'compareScore'>>;
}

/** What the port is built from. */
export interface InferenceCompletionsDeps {
  inference: InferenceGeneratePort;
  models: { list(): StoredModelFields[]; get(id: string): StoredModelFields };
  /** The same queue the API service admits the UI's generations through. */
  admission: AdmissionQueue;
}

/** What serve mode mounts the routes with. */
export interface ServedOpenAiOptions extends InferenceCompletionsDeps {
  /** The limits `admission` was made with. */
  limits: AdmissionLimits;
  /** Whether a Bearer token may use the API (constant-time). */
  authorize(token: string | undefined): boolean;
  log?: (line: string) => void;
}

/** Serve mode's /v1 routes: the port below, and a fair queue that lets through as many requests as the admission bound does. */
export function createServedOpenAiRoutes(options: ServedOpenAiOptions): OpenAiRoutes {
  const { limits } = options;
  return createOpenAiRoutes({
    port: createInferenceCompletionsPort(options),
    authorize: options.authorize,
    // Fairness between clients only: a queue that ran one request at a time would serialize them
    // before the engine, and concurrent clients could never share its decode steps.
    queue: new FairQueue({ maxRunning: limits.maxSequences, maxWaiting: limits.maxQueuedSequences, maxWaitingPerClient: Math.max(1, Math.floor(limits.maxQueuedSequences / 4)) }),
    ...(options.log ? { log: options.log } : {}),
  });
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
        const withLogprobs = job.logprobs !== null;
        const promptLogprobs = job.promptLogprobs ? await promptTokenLogprobs(inference, job.modelId, job.prompt, model.config.nPositions) : undefined;
        const outcome = await inference.generate(generateArgs(job), {
          onStart: (info) => events.onStart({ promptTokens: info.promptTokens, ...(promptLogprobs ? { promptLogprobs } : {}) }),
          // With logprobs, each candidate's text goes out once it is done, with its tokens (the engine streams text, not tokens).
          onDelta: (sequence, text) => {
            if (!withLogprobs) events.onDelta(sequence, { text });
          },
        }, signal);
        const logprobs = withLogprobs ? await tokenLogprobsOf(inference, job, outcome) : null;
        const sequences = outcome.sequences.map((candidate, i): CompletionSequence => ({
          text: candidate.text,
          tokenCount: candidate.tokenIds.length,
          finishReason: candidate.finishReason,
          ...(logprobs ? { logprobs: logprobs[i] as TokenLogprob[] } : {}),
        }));
        if (logprobs) for (const [i, sequence] of sequences.entries()) events.onDelta(i, { text: sequence.text, tokens: sequence.logprobs ?? [] });
        return { promptTokens: outcome.promptTokens, sequences };
      } finally {
        admitted.release();
      }
    },
  };
}

/**
 * The prompt's own tokens with their log-probabilities (echo with logprobs; with max_tokens 0 this
 * is how vLLM-style clients, Inkwell's Compare among them, score a text): the first token gets null
 * (nothing predicts it), each later one its log-probability after the tokens before it, from the
 * same pass Compare's perplexity uses. No alternatives are listed for prompt tokens (`top` is empty).
 */
async function promptTokenLogprobs(inference: InferenceGeneratePort, modelId: string, prompt: string, nPositions: number): Promise<TokenLogprob[]> {
  const { ids } = await inference.tokenize(modelId, prompt);
  if (ids.length > nPositions) {
    throw new OpenAiError(400, `echo with logprobs scores at most ${nPositions} prompt tokens (${modelId}'s window); this prompt has ${ids.length}`, { type: 'invalid_request_error', param: 'prompt', code: 'context_length_exceeded' });
  }
  const texts = (await inference.tokenStrings(modelId, ids)).strings;
  const first: TokenLogprob = { token: texts[0] ?? '', logprob: null, top: [] };
  if (ids.length <= 1) return ids.length === 0 ? [] : [first];
  // The first token is the context, by its own text: the scorer encodes it back to the same id.
  const { logprobs } = await inference.compareScore({ modelId, precision: 'auto', device: 'auto', prompt: texts[0] ?? '', continuations: [ids.slice(1)] });
  return [first, ...ids.slice(1).map((_, i) => ({ token: texts[i + 1] ?? '', logprob: Math.max(LOGPROB_FLOOR, logprobs[0]?.[i] ?? LOGPROB_FLOOR), top: [] }))];
}

/** The inference request of a job. */
function generateArgs(job: CompletionJob): InferenceArgs<'generate'> {
  return { modelId: job.modelId, prompt: job.prompt, memory: '', params: job.params, ...(job.logprobs !== null ? { topLogprobs: job.logprobs } : {}) };
}

/**
 * Every candidate's tokens in the completions format: the engine's ids and log-probabilities, with
 * the text of each id (chosen and alternatives) asked of the tokenizer in one request.
 */
async function tokenLogprobsOf(inference: InferenceGeneratePort, job: CompletionJob, outcome: GenerationOutcome): Promise<TokenLogprob[][]> {
  const ids = new Set<number>();
  for (const candidate of outcome.sequences) {
    for (const id of candidate.tokenIds) ids.add(id);
    for (const step of candidate.topLogprobs ?? []) for (const alternative of step) ids.add(alternative.tokenId);
  }
  const list = [...ids];
  const { strings } = await inference.tokenStrings(job.modelId, list);
  const text = new Map(list.map((id, i) => [id, strings[i] ?? '']));
  return outcome.sequences.map((candidate) => {
    if (candidate.tokenLogprobs === undefined || candidate.tokenLogprobs.length !== candidate.tokenIds.length) {
      throw OpenAiError.engineFailed('The engine returned no log-probabilities for a request that asked for them.');
    }
    return candidate.tokenIds.map((id, i) => ({
      token: text.get(id) ?? '',
      logprob: Math.max(LOGPROB_FLOOR, candidate.tokenLogprobs?.[i] ?? LOGPROB_FLOOR),
      top: (candidate.topLogprobs?.[i] ?? []).slice(0, job.logprobs ?? 0).map((t) => ({ token: text.get(t.tokenId) ?? '', logprob: Math.max(LOGPROB_FLOOR, t.logprob) })),
    }));
  });
}
