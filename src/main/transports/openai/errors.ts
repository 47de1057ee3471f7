/**
 * Maps what the back end throws onto OpenAI-style errors with their HTTP
 * status. Engine errors (src/main/engine/types.ts) and API errors
 * (src/shared/api.ts) both carry a `kind`; anything else is a bug and becomes
 * a 500 that says only "internal error" plus the message.
 */
import { OpenAiError } from '../../../shared/openai/errors';
import { QueueFullError } from './fair-queue';

/** Thrown into a request's generation when serve mode shuts down. */
export class ServerClosingError extends Error {
  constructor() {
    super('The server is shutting down; the generation was stopped.');
    this.name = 'ServerClosingError';
  }
}

/** The OpenAI error to answer with for anything a /v1 request's work threw. */
export function openAiErrorOf(error: unknown, modelId?: string): OpenAiError {
  if (error instanceof OpenAiError) return error;
  if (error instanceof QueueFullError) return OpenAiError.queueFull(error.message, error.retryAfterSeconds);
  if (error instanceof ServerClosingError) return OpenAiError.unavailable(error.message);
  const message = error instanceof Error ? error.message : String(error);
  const kind = (error as { kind?: unknown } | null)?.kind;
  switch (kind) {
    case 'bad_input':
    case 'invalid_request':
      return OpenAiError.invalidRequest(message);
    case 'refused':
      return OpenAiError.invalidRequest(message, null, 'refused');
    case 'not_found':
      return modelId !== undefined ? new OpenAiError(404, message, { type: 'invalid_request_error', code: 'model_not_found', param: 'model' }) : new OpenAiError(404, message, { type: 'invalid_request_error', code: 'not_found' });
    case 'unauthorized':
      return OpenAiError.invalidApiKey(message);
    case 'busy':
      // The admission bound the UI shares (src/main/inference/admission.ts) is full: try again shortly.
      return OpenAiError.queueFull(message, 2);
    case 'engine_crashed':
    case 'cancelled':
      return OpenAiError.unavailable(message, 5);
    case 'device':
    case 'model_error':
      return OpenAiError.engineFailed(message);
    default:
      return new OpenAiError(500, `Internal error: ${message}`, { type: 'server_error', code: 'internal_error' });
  }
}
