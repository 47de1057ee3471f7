/**
 * The OpenAI-compatible routes, mountable in any node:http server:
 * `GET /v1/models`, `GET /v1/models/{id}` and `POST /v1/completions`
 * (JSON or server-sent events ending in `data: [DONE]`).
 *
 * - Auth: `Authorization: Bearer <token>` only; never a cookie, so a web page
 *   the user visits cannot ride on serve mode's session, which is also why
 *   answering CORS with `*` is safe (the page must hold the token).
 * - Admission: a FairQueue; full → 429 with Retry-After at once.
 * - A client that disconnects (while queued or mid-stream) aborts its work.
 * - Errors are `{error: {message, type, param, code}}` with OpenAI's statuses.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { modelCard, modelList, parseCompletionRequest, type CompletionResponse } from '../../../shared/openai/completions';
import { OpenAiError } from '../../../shared/openai/errors';
import { sseComment, sseData, sseDone } from '../../../shared/openai/sse';
import { parseJsonBody, readRequestBody } from '../http-body';
import { collectCompletion, streamCompletion, type CompletionRunContext } from './completion-run';
import { openAiErrorOf, ServerClosingError } from './errors';
import { FairQueue } from './fair-queue';
import type { CompletionsPort } from './port';

/** Options of the /v1 routes. */
export interface OpenAiRoutesOptions {
  port: CompletionsPort;
  /** True when `token` (the bearer token sent, or undefined) may use the API; compare in constant time. */
  authorize(token: string | undefined): boolean;
  /** Admission; defaults to one generation at a time, 16 waiting, 4 per client. */
  queue?: FairQueue;
  /** Largest body read (default 12 MiB: MAX_PROMPTS long prompts fit). */
  maxBodyBytes?: number;
  /** Answer CORS preflights and allow any origin (default true), so browser front ends opened from a file can call. */
  cors?: boolean;
  /** Milliseconds of silence after which a stream gets a `: keep-alive` comment (default 15 000). */
  keepAliveMs?: number;
  /** A stream whose client lets this much pile up unread is cut off (default 4 MiB). */
  maxBacklogBytes?: number;
  log?: (line: string) => void;
}

/** The mounted routes. */
export interface OpenAiRoutes {
  /** True for the paths these routes answer (`/v1` and below). */
  owns(path: string): boolean;
  /** Answers one request whose path `owns`; never rejects. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Stops running generations (their clients get a 503 or an error event), fails queued ones, refuses new ones. */
  close(): Promise<void>;
}

/** Default body limit. */
export const DEFAULT_OPENAI_MAX_BODY_BYTES = 12 * 1024 * 1024;

/** Builds the routes. */
export function createOpenAiRoutes(options: OpenAiRoutesOptions): OpenAiRoutes {
  const { port } = options;
  const log = options.log ?? (() => {});
  const queue = options.queue ?? new FairQueue({ maxRunning: 1, maxWaiting: 16, maxWaitingPerClient: 4 });
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_OPENAI_MAX_BODY_BYTES;
  const cors = options.cors ?? true;
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const maxBacklogBytes = options.maxBacklogBytes ?? 4 * 1024 * 1024;
  const running = new Set<{ controller: AbortController; done: Promise<void> }>();
  let closed = false;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await route(req, res);
    } catch (error) {
      const apiError = openAiErrorOf(error);
      if (apiError.status >= 500) log(`openai: ${req.method} ${req.url?.slice(0, 200)}: ${apiError.message}`);
      if (!res.headersSent) sendError(res, apiError);
      else res.destroy();
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] as string;
    res.setHeader('Cache-Control', 'no-store');
    if (cors) {
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Access-Control-Expose-Headers', 'Retry-After');
    }
    if (method === 'OPTIONS' && cors) {
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Authorization, Content-Type',
        'Access-Control-Max-Age': '600',
      });
      res.end();
      return;
    }
    if (!options.authorize(bearerToken(req))) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      throw OpenAiError.invalidApiKey();
    }

    if (path === '/v1/models') {
      if (method !== 'GET' && method !== 'HEAD') throw OpenAiError.methodNotAllowed(method, path, 'GET');
      return sendJson(res, 200, modelList(await port.listModels()));
    }
    if (path.startsWith('/v1/models/')) {
      if (method !== 'GET' && method !== 'HEAD') throw OpenAiError.methodNotAllowed(method, path, 'GET');
      const id = safeDecode(path.slice('/v1/models/'.length));
      const model = (await port.listModels()).find((m) => m.id === id);
      if (!model) throw OpenAiError.modelNotFound(id ?? path);
      return sendJson(res, 200, modelCard(model));
    }
    if (path === '/v1/completions') {
      if (method !== 'POST') throw OpenAiError.methodNotAllowed(method, path, 'POST');
      return completions(req, res);
    }
    if (path === '/v1/chat/completions') {
      throw new OpenAiError(404, 'Chat completions are not served: GPT-2 models continue text and have no chat template. Use POST /v1/completions.', {
        type: 'invalid_request_error',
        code: 'unknown_url',
      });
    }
    throw OpenAiError.unknownRoute(method, path);
  }

  async function completions(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readRequestBody(req, maxBodyBytes);
    if (body === 'too_large') {
      res.setHeader('Connection', 'close');
      throw OpenAiError.bodyTooLarge(maxBodyBytes);
    }
    const json = parseJsonBody(body);
    if (!json.ok) throw OpenAiError.invalidRequest(`${json.problem.charAt(0).toUpperCase()}${json.problem.slice(1)}`);
    const plan = parseCompletionRequest(json.value);
    if (plan.ignoredFields.length > 0) log(`openai: ignored request fields: ${plan.ignoredFields.slice(0, 20).join(', ')}`);
    const models = await port.listModels();
    const modelId = plan.model ?? models[0]?.id;
    if (modelId === undefined) throw OpenAiError.unavailable('No model is installed: import one first (`inkwell models import <dir> --id <id>`).');
    if (!models.some((m) => m.id === modelId)) throw OpenAiError.modelNotFound(modelId);
    if (closed) throw new ServerClosingError();

    const controller = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) controller.abort(new ClientGoneError());
    };
    res.on('close', onClose);
    let finish: () => void = () => {};
    const entry = { controller, done: new Promise<void>((resolve) => (finish = resolve)) };
    running.add(entry);
    try {
      const ticket = await queue.enter(plan.user ?? req.socket.remoteAddress ?? 'unknown', controller.signal);
      try {
        const identity = { id: `cmpl-${randomUUID().replaceAll('-', '')}`, created: Math.floor(Date.now() / 1000), model: modelId };
        const ctx: CompletionRunContext = { plan, modelId, identity, port, signal: controller.signal };
        if (plan.stream) await stream(res, ctx, controller);
        else sendJson(res, 200, await collectCompletion(ctx));
      } finally {
        ticket.release();
      }
    } catch (error) {
      if (error instanceof ClientGoneError) return;
      throw openAiErrorOf(error, modelId);
    } finally {
      res.off('close', onClose);
      running.delete(entry);
      finish();
    }
  }

  async function stream(res: ServerResponse, ctx: CompletionRunContext, controller: AbortController): Promise<void> {
    let lastWrite = Date.now();
    const write = (text: string): void => {
      if (res.writableLength > maxBacklogBytes) {
        log('openai: a streaming client stopped reading; disconnecting it');
        controller.abort(new ClientGoneError());
        res.destroy();
        return;
      }
      res.write(text);
      lastWrite = Date.now();
    };
    const keepAlive = setInterval(() => {
      if (res.headersSent && Date.now() - lastWrite >= keepAliveMs) write(sseComment('keep-alive'));
    }, Math.max(10, Math.floor(keepAliveMs / 2)));
    keepAlive.unref();
    try {
      await streamCompletion(ctx, {
        begin: () => {
          res.writeHead(200, {
            'Content-Type': 'text/event-stream; charset=utf-8',
            'Cache-Control': 'no-cache',
            Connection: 'keep-alive',
            // nginx buffers proxied responses unless told not to.
            'X-Accel-Buffering': 'no',
          });
          res.flushHeaders();
        },
        chunk: (chunk: CompletionResponse) => write(sseData(chunk)),
      });
      write(sseDone());
      res.end();
    } catch (error) {
      if (error instanceof ClientGoneError || !res.headersSent) throw error;
      // Mid-stream the status is already sent: an error event, as vLLM sends, which the openai client raises as APIError.
      const apiError = openAiErrorOf(error, ctx.modelId);
      if (apiError.status >= 500) log(`openai: stream ${ctx.identity.id}: ${apiError.message}`);
      write(sseData(apiError.toBody()));
      write(sseDone());
      res.end();
    } finally {
      clearInterval(keepAlive);
    }
  }

  return {
    owns: (path) => path === '/v1' || path.startsWith('/v1/'),
    handle,
    async close() {
      closed = true;
      const error = new ServerClosingError();
      queue.close(error);
      for (const entry of running) entry.controller.abort(error);
      await Promise.all([...running].map((entry) => entry.done));
    },
  };
}

/** The client went away; nothing is left to answer. */
class ClientGoneError extends Error {
  constructor() {
    super('the client disconnected');
    this.name = 'ClientGoneError';
  }
}

function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match ? (match[1] as string).trim() : undefined;
}

function safeDecode(value: string): string | null {
  try {
    return decodeURIComponent(value);
  } catch {
    return null;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}

function sendError(res: ServerResponse, error: OpenAiError): void {
  if (error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(error.retryAfterSeconds));
  sendJson(res, error.status, error.toBody());
}
