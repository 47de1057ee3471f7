/**
 * OpenAI-style error objects, `{error: {message, type, param, code}}`, with
 * the HTTP status each one is sent with. The shape and the codes follow the
 * OpenAI API reference ("Error codes"); the official clients read `message`,
 * `type`, `param` and `code` from it and pick their error class by status.
 *
 * Pure TypeScript + zod: no Electron, Node or DOM imports.
 */
import { z } from 'zod';

/** The error object OpenAI-compatible servers answer with. */
export const OpenAiErrorBody = z.object({
  error: z.object({
    message: z.string(),
    type: z.string(),
    param: z.string().nullable(),
    code: z.string().nullable(),
  }),
});
export type OpenAiErrorBody = z.infer<typeof OpenAiErrorBody>;

/** What is known about an error beyond its status and message. */
export interface OpenAiErrorDetails {
  type: string;
  code: string | null;
  /** The request field at fault, as a dotted path (`stop.2`), or null. */
  param?: string | null;
  /** Sent as the Retry-After header (429 and 503). */
  retryAfterSeconds?: number;
}

/** An error to answer a /v1 request with. */
export class OpenAiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string | null;
  readonly param: string | null;
  readonly retryAfterSeconds: number | undefined;

  constructor(status: number, message: string, details: OpenAiErrorDetails) {
    super(message);
    this.name = 'OpenAiError';
    this.status = status;
    this.type = details.type;
    this.code = details.code;
    this.param = details.param ?? null;
    this.retryAfterSeconds = details.retryAfterSeconds;
  }

  /** The JSON body to send. */
  toBody(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  /** 400: the request is malformed or asks for something this server does not do. */
  static invalidRequest(message: string, param: string | null = null, code: string | null = null): OpenAiError {
    return new OpenAiError(400, message, { type: 'invalid_request_error', code, param });
  }

  /** 401: no API key, or the wrong one (OpenAI answers `invalid_api_key` for both). */
  static invalidApiKey(message = 'Incorrect or missing API key: send `Authorization: Bearer <token>` with the token `inkwell serve` printed.'): OpenAiError {
    return new OpenAiError(401, message, { type: 'invalid_request_error', code: 'invalid_api_key' });
  }

  /** 404 for an unknown model, worded as OpenAI words it. */
  static modelNotFound(model: string): OpenAiError {
    return new OpenAiError(404, `The model \`${model}\` does not exist. GET /v1/models lists the models this server has.`, {
      type: 'invalid_request_error',
      code: 'model_not_found',
      param: 'model',
    });
  }

  /** 404 for a path this server does not serve. */
  static unknownRoute(method: string, path: string): OpenAiError {
    return new OpenAiError(404, `Unknown request URL: ${method} ${path}. This server serves GET /v1/models and POST /v1/completions.`, {
      type: 'invalid_request_error',
      code: 'unknown_url',
    });
  }

  /** 405: a known path with the wrong method. */
  static methodNotAllowed(method: string, path: string, allowed: string): OpenAiError {
    return new OpenAiError(405, `${method} is not allowed on ${path}; use ${allowed}.`, { type: 'invalid_request_error', code: 'method_not_allowed' });
  }

  /** 413: a body larger than the server reads. */
  static bodyTooLarge(limitBytes: number): OpenAiError {
    return new OpenAiError(413, `The request body is larger than ${limitBytes} bytes.`, { type: 'invalid_request_error', code: 'request_too_large' });
  }

  /** 429: the queue is full; come back after `retryAfterSeconds`. */
  static queueFull(message: string, retryAfterSeconds: number): OpenAiError {
    return new OpenAiError(429, message, { type: 'rate_limit_error', code: 'queue_full', retryAfterSeconds });
  }

  /** 500: the engine failed; the message says how. */
  static engineFailed(message: string): OpenAiError {
    return new OpenAiError(500, message, { type: 'server_error', code: 'engine_error' });
  }

  /** 503: the engine is gone or the server is shutting down. */
  static unavailable(message: string, retryAfterSeconds?: number): OpenAiError {
    return new OpenAiError(503, message, {
      type: 'server_error',
      code: 'engine_unavailable',
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    });
  }
}
