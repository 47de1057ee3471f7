/**
 * Errors of remote engines: what went wrong in words a writer can act on,
 * which engine it was (name and origin, never the path's secrets or the key),
 * and what had already streamed, so that nothing written is lost.
 */
import { EngineError, type EngineErrorKind } from '../types';

/** What went wrong, finer than the engine's error kinds. */
export type RemoteFailure =
  | 'unreachable' // no connection: refused, unknown host, TLS
  | 'timeout' // connect, first byte or idle limit passed
  | 'disconnected' // the connection closed before the response was complete
  | 'cancelled' // the caller aborted
  | 'unauthorized' // 401 / 403: the key is wrong or missing
  | 'not_found' // 404: no such model or path
  | 'rejected' // another 4xx: the server refused the request
  | 'busy' // 429 / 503: try again later
  | 'server_error' // 5xx, or an error event inside the stream
  | 'redirected' // 3xx: the base URL is not where the API is
  | 'malformed' // the response is not what the OpenAI completions API sends
  | 'no_logprobs'; // the server answered, but without the (prompt) log-probabilities asked for

const kindOfFailure: Record<RemoteFailure, EngineErrorKind> = {
  unreachable: 'device',
  timeout: 'device',
  disconnected: 'device',
  cancelled: 'cancelled',
  unauthorized: 'refused',
  not_found: 'not_found',
  rejected: 'bad_input',
  busy: 'device',
  server_error: 'device',
  redirected: 'bad_input',
  malformed: 'device',
  no_logprobs: 'refused',
};

/** An error of a remote engine; `partial` holds what was streamed before it (the caller saves it). */
export class RemoteEngineError<TPartial = unknown> extends EngineError {
  readonly failure: RemoteFailure;
  /** HTTP status, when the server answered with one. */
  readonly status: number | undefined;
  /** Seconds the server asked to wait (429 / 503 Retry-After). */
  readonly retryAfterSeconds: number | undefined;
  /** What was received before the failure. */
  readonly partial: TPartial | undefined;

  constructor(failure: RemoteFailure, message: string, options: { status?: number; retryAfterSeconds?: number; partial?: TPartial; cause?: unknown } = {}) {
    super(kindOfFailure[failure], message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'RemoteEngineError';
    this.failure = failure;
    this.status = options.status;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.partial = options.partial;
  }

  /** The same error with a prefix naming the engine and with what had streamed. */
  withContext<P>(prefix: string, partial: P | undefined): RemoteEngineError<P> {
    return new RemoteEngineError<P>(this.failure, `${prefix}${this.message}`, {
      ...(this.status !== undefined ? { status: this.status } : {}),
      ...(this.retryAfterSeconds !== undefined ? { retryAfterSeconds: this.retryAfterSeconds } : {}),
      ...(partial !== undefined ? { partial } : {}),
      cause: this,
    });
  }
}

/** Replaces every occurrence of the key in `text` (servers echo keys back in error messages). */
export function redactKey(text: string, apiKey: string | undefined): string {
  if (!apiKey || apiKey.length < 4) return text;
  return text.split(apiKey).join('[redacted]');
}

/** Longest excerpt of a server's body quoted in a message. */
const EXCERPT_CHARS = 300;

/**
 * The message inside an error body, whichever server wrote it:
 * `{error: {message}}` (OpenAI, llama.cpp's server, vLLM ≥ 0.10),
 * `{message}` (older vLLM, `object: "error"`), `{error: "…"}` (vLLM's API-key
 * middleware, TGI with `error_type`), `{detail}` (FastAPI), an HTML page (a
 * proxy), or plain text.
 */
export function messageOfErrorBody(body: string): string {
  const text = body.trim();
  if (text.length === 0) return '';
  try {
    const json = JSON.parse(text) as unknown;
    const found = messageOfJson(json);
    if (found) return excerpt(found);
  } catch {
    // Not JSON: fall through to HTML or text.
  }
  if (/^<(!doctype|html)/i.test(text)) {
    const title = /<title[^>]*>([^<]*)<\/title>/i.exec(text)?.[1];
    const plain = (title ?? text.replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();
    return excerpt(`an HTML page: "${plain}"`);
  }
  return excerpt(text.replace(/\s+/g, ' '));
}

function messageOfJson(json: unknown): string | null {
  if (!json || typeof json !== 'object') return typeof json === 'string' ? json : null;
  const record = json as Record<string, unknown>;
  const error = record.error;
  if (error && typeof error === 'object' && typeof (error as Record<string, unknown>).message === 'string') {
    return (error as Record<string, unknown>).message as string;
  }
  if (typeof error === 'string') return typeof record.error_type === 'string' ? `${error} (${record.error_type})` : error;
  if (typeof record.message === 'string') return record.message;
  const detail = record.detail;
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => (d && typeof d === 'object' && typeof (d as Record<string, unknown>).msg === 'string' ? `${((d as { loc?: unknown[] }).loc ?? []).join('.')}: ${(d as { msg: string }).msg}` : JSON.stringify(d)))
      .join('; ');
  }
  return null;
}

function excerpt(text: string): string {
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
}
