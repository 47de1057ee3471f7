/**
 * HTTP to the Hugging Face Hub (or a mirror set by HF_ENDPOINT) with Node's
 * own http/https, for full control of what a download needs: redirects
 * followed by hand (the token goes only to the endpoint's own origin), no
 * transparent decompression (byte offsets must be the file's for Range), an
 * inactivity timeout, cancellation, and errors that say what the Hub refused.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { EngineError, type EngineErrorKind } from '../types';

/** The public Hub, used when HF_ENDPOINT is unset. */
export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** How many redirects one request follows (resolve → CDN is one, a renamed repo adds one). */
const MAX_REDIRECTS = 10;

/** Why a Hub request failed, for the UI to act on (sign in, retry later, free disk, …). */
export type HubFailure =
  | 'not_found' | 'unauthorized' | 'gated' | 'rate_limited' | 'server' | 'network' | 'bad_response' | 'hash_mismatch';

/** An EngineError from talking to the Hub, with a finer reason. */
export class HubError extends EngineError {
  readonly reason: HubFailure;
  /** HTTP status, when the server answered. */
  readonly status?: number;
  constructor(kind: EngineErrorKind, reason: HubFailure, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(kind, message, { cause: options.cause });
    this.name = 'HubError';
    this.reason = reason;
    this.status = options.status;
  }
}

/** Where the Hub is and how to authenticate. */
export interface HubConnection {
  /** Origin (and optional path prefix) of the Hub, without a trailing slash. */
  readonly endpoint: string;
  /** Sent as `Authorization: Bearer …` to the endpoint's origin only. */
  readonly token?: string;
  /** No bytes for this long ends a transfer (then retried); default 60 s. */
  readonly stallTimeoutMs?: number;
}

/** The connection settings huggingface_hub reads from the environment: HF_ENDPOINT and HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN). */
export function hubConnectionFromEnv(env: NodeJS.ProcessEnv = process.env): HubConnection {
  const endpoint = (env.HF_ENDPOINT?.trim() || DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new EngineError('bad_input', `HF_ENDPOINT ${JSON.stringify(endpoint)} is not a URL (e.g. https://huggingface.co)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new EngineError('bad_input', `HF_ENDPOINT must be an http(s) URL, got ${url.protocol}`);
  const token = (env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN)?.trim();
  return { endpoint, ...(token ? { token } : {}) };
}

/** An open response whose body the caller reads (or destroys). */
export interface HubResponse {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: IncomingMessage;
  /** The URL that answered, after redirects. */
  readonly url: string;
}

/** One header as a single string. */
export function header(headers: IncomingMessage['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A server-sent message made safe to show: printable, one line, at most 200 characters. */
function serverMessage(headers: IncomingMessage['headers']): string {
  const text = header(headers, 'x-error-message')?.replace(/[^\x20-\x7e]/g, ' ').trim() ?? '';
  return text === '' ? '' : `: ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`;
}

/** The HubError for a non-success status of a request about `what`. */
export function statusError(status: number, headers: IncomingMessage['headers'], what: string, connection: HubConnection): HubError {
  const code = header(headers, 'x-error-code');
  const said = serverMessage(headers);
  const host = new URL(connection.endpoint).host;
  if (status === 401 || (status === 403 && code !== 'GatedRepo')) {
    // The Hub answers 401 for a repository that does not exist too, so as not to reveal private ones.
    const message = connection.token
      ? `${host} refused HF_TOKEN for ${what} (HTTP ${status}${said}): the token is invalid, expired, or cannot read this repository`
      : `${host} refused ${what} (HTTP ${status}${said}): it does not exist, or it is private or gated; check the name, or set HF_TOKEN to a token that can read it (https://huggingface.co/settings/tokens)`;
    return new HubError('refused', 'unauthorized', message, { status });
  }
  if (status === 403) {
    return new HubError('refused', 'gated', `${what} is gated (HTTP 403${said}): accept its conditions on ${connection.endpoint} while signed in, and set HF_TOKEN to a token of that account`, { status });
  }
  if (status === 404) return new HubError('not_found', 'not_found', `${what} was not found on ${host} (HTTP 404${said})`, { status });
  if (status === 429) {
    const after = header(headers, 'retry-after');
    return new HubError('refused', 'rate_limited', `${host} is limiting requests (HTTP 429${said}); try again${after ? ` in ${after} s` : ' later'}`, { status });
  }
  if (status >= 500) return new HubError('refused', 'server', `${host} failed to serve ${what} (HTTP ${status}${said}); try again later`, { status });
  return new HubError('refused', 'bad_response', `${host} answered ${what} with HTTP ${status}${said}`, { status });
}

/** The HubError for a connection that failed before or during a response. */
export function networkError(error: unknown, url: string): HubError {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const host = new URL(url).host;
  return new HubError('refused', 'network', `cannot reach ${host} (${code ?? (error as Error).message}); check the network connection or HF_ENDPOINT`, { cause: error });
}

/**
 * Whether a request to `url` may carry the token: only to the endpoint's own origin. huggingface_hub
 * does the same: it follows only relative (same-host) redirects with the token, and before it
 * downloads from a redirect target on another host (the CDN, whose URL is signed) it removes the
 * authorization header (huggingface_hub src/huggingface_hub/file_download.py, hf_hub_download;
 * requests itself also strips it on a cross-host redirect, requests/sessions.py should_strip_auth).
 */
export function mayCarryToken(url: string, connection: HubConnection): boolean {
  return connection.token !== undefined && new URL(url).origin === new URL(connection.endpoint).origin;
}

/** Options of one GET. */
export interface GetOptions {
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

function getOnce(url: string, headers: Record<string, string>, signal: AbortSignal | undefined, stallMs: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { method: 'GET', headers, signal });
    req.setTimeout(stallMs, () => req.destroy(Object.assign(new Error(`no answer for ${Math.round(stallMs / 1000)} s`), { code: 'ETIMEDOUT' })));
    req.on('response', (res) => {
      // The same inactivity limit applies while the body streams.
      res.setTimeout?.(stallMs, () => res.destroy(Object.assign(new Error(`no data for ${Math.round(stallMs / 1000)} s`), { code: 'ETIMEDOUT' })));
      resolve(res);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * GETs `url`, following redirects (relative ones too) and sending the token only to the endpoint's
 * origin. Resolves with the final response whatever its status; rejects with a HubError('network')
 * when no response came, or EngineError('cancelled') when `signal` aborted.
 */
export async function hubGet(url: string, connection: HubConnection, options: GetOptions = {}): Promise<HubResponse> {
  let current = url;
  const stallMs = connection.stallTimeoutMs ?? 60_000;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const headers: Record<string, string> = {
      'user-agent': 'inkwell',
      'accept-encoding': 'identity',
      ...options.headers,
    };
    if (mayCarryToken(current, connection)) headers.authorization = `Bearer ${connection.token}`;
    let res: IncomingMessage;
    try {
      res = await getOnce(current, headers, options.signal, stallMs);
    } catch (error) {
      if (options.signal?.aborted) throw new EngineError('cancelled', 'the download was cancelled', { cause: error });
      throw networkError(error, current);
    }
    const status = res.statusCode ?? 0;
    const location = header(res.headers, 'location');
    if (status >= 300 && status < 400 && status !== 304 && location) {
      res.resume();
      const next = new URL(location, current);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw new HubError('refused', 'bad_response', `${new URL(current).host} redirected to a ${next.protocol} URL, which Inkwell does not follow`);
      }
      current = next.toString();
      continue;
    }
    return { status, headers: res.headers, body: res, url: current };
  }
  throw new HubError('refused', 'bad_response', `more than ${MAX_REDIRECTS} redirects from ${url}`);
}

/** Reads a whole small response body (at most `maxBytes`). */
export async function readBody(res: HubResponse, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body) {
      size += (chunk as Buffer).byteLength;
      if (size > maxBytes) {
        res.body.destroy();
        throw new HubError('refused', 'bad_response', `${new URL(res.url).host} sent more than ${maxBytes} bytes where a small answer was expected`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof HubError) throw error;
    throw networkError(error, res.url);
  }
  return Buffer.concat(chunks);
}
