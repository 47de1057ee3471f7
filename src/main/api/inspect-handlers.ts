/**
 * The inspect methods of the API contract (issue 8): the inspect pass and its per-layer payloads,
 * GPT-2 chips, BERT WordPiece and the positional encodings. Every method that may run a pass goes
 * through admission control like a generation does, so an inspect of GPT-2 Large over 1024 tokens
 * beside running generations is refused with 'busy' instead of running the process out of memory.
 * A remote model (`remote:…`) is refused with a plain explanation: its server sends text, never
 * attention or hidden states.
 */
import { ApiError, type MethodName, type MethodParsedRequest, type MethodResponse } from '../../shared/api';
import type { InspectTarget } from '../../shared/inspect';
import { isRemoteModelId } from '../../shared/remote-engines';
import type { InferenceArgs, InferenceResult } from '../common/inference-protocol';
import { estimateInspectCost, type AdmissionQueue, type ModelShape } from '../inference/admission';

type InspectMethod = Extract<MethodName, `inspect.${string}`>;
type InspectHandlers = { [M in InspectMethod]: (params: MethodParsedRequest<M>) => Promise<MethodResponse<M>> | MethodResponse<M> };
type TargetArgs = InferenceArgs<'inspect'>['target'];

/** What the inspect handlers need of the inference client (InferenceClient satisfies it). */
export interface InspectInferencePort {
  inspect(target: TargetArgs): Promise<InferenceResult<'inspect'>>;
  inspectProbs(target: TargetArgs): Promise<InferenceResult<'inspectProbs'>>;
  inspectAttention(target: TargetArgs, layer: number): Promise<InferenceResult<'inspectAttention'>>;
  inspectOverview(target: TargetArgs, size: number): Promise<InferenceResult<'inspectOverview'>>;
  inspectLens(target: TargetArgs, layer: number, k: number): Promise<InferenceResult<'inspectLens'>>;
  inspectPositional(args: InferenceArgs<'inspectPositional'>): Promise<InferenceResult<'inspectPositional'>>;
  inspectTokens(args: InferenceArgs<'inspectTokens'>): Promise<InferenceResult<'inspectTokens'>>;
  wordPiece(text: string): Promise<InferenceResult<'wordPiece'>>;
  importBertTokenizer(srcDir: string): Promise<void>;
}

/** What the inspect handlers are built from. */
export interface InspectHandlerDeps {
  inference: InspectInferencePort;
  /** A stored model's shape; throws not_found for an unknown id. */
  modelShape: (id: string) => ModelShape;
  admission: AdmissionQueue;
  /** An import path as this machine reads it (`~` expanded, relative paths refused). */
  resolvePath: (path: string) => string;
}

/** The message a remote model gets from every inspect method. */
export function remoteInspectMessage(modelId: string): string {
  return `${modelId} is a remote model: attention, token probabilities and the logit lens need a local model, because a remote server sends back only text. Choose a local model (Models page) to inspect.`;
}

/** Refuses remote model ids before anything runs. */
function requireLocal(modelId: string): void {
  if (isRemoteModelId(modelId)) throw new ApiError('refused', remoteInspectMessage(modelId));
}

/** Builds the handlers of the `inspect.*` methods. */
export function createInspectHandlers(deps: InspectHandlerDeps): InspectHandlers {
  const { inference, admission } = deps;

  /** Runs `work` on a local model's pass inside the admission bound. */
  async function withPass<T>(target: InspectTarget, work: (target: TargetArgs) => Promise<T>): Promise<T> {
    requireLocal(target.modelId);
    const shape = deps.modelShape(target.modelId);
    const admitted = admission.enter(estimateInspectCost(shape, target));
    try {
      await admitted.admitted;
      const args: TargetArgs = { modelId: target.modelId, device: target.device, ...(target.text !== undefined ? { text: target.text } : { tokenIds: target.tokenIds }) };
      return await work(args);
    } finally {
      admitted.release();
    }
  }

  return {
    'inspect.run': ({ target }) => withPass(target, (t) => inference.inspect(t)),
    'inspect.attention': ({ target, layer }) => withPass(target, (t) => inference.inspectAttention(t, layer)),
    'inspect.overview': ({ target, size }) => withPass(target, (t) => inference.inspectOverview(t, size)),
    'inspect.lens': ({ target, layer, k }) => withPass(target, (t) => inference.inspectLens(t, layer, k)),
    'inspect.probs': ({ target }) => withPass(target, (t) => inference.inspectProbs(t)),
    'inspect.positional': (request) => {
      requireLocal(request.modelId);
      deps.modelShape(request.modelId);
      return inference.inspectPositional(request);
    },
    'inspect.tokens': ({ modelId, text, tokenIds }) => {
      requireLocal(modelId);
      deps.modelShape(modelId);
      return inference.inspectTokens({ modelId, ...(text !== undefined ? { text } : { tokenIds: tokenIds ?? [] }) });
    },
    'inspect.wordpiece': ({ text }) => inference.wordPiece(text),
    'inspect.importBertTokenizer': async ({ path }) => {
      await inference.importBertTokenizer(deps.resolvePath(path));
      return { imported: true as const };
    },
  };
}
