/**
 * Serve mode's transport: the built renderer and the API contract over
 * HTTP + WebSocket, guarded by a random token as Jupyter does.
 *
 * Wire protocol (what src/renderer/src/api/http-client.ts speaks):
 * - GET `/?token=T` with the right token sets the `inkwell_token` cookie and
 *   redirects to `/`, so the token leaves the address bar.
 * - Every other request needs that cookie or `Authorization: Bearer T`; else 401.
 * - POST `/api/call/<method>` with a JSON body → `{"result": …}` or `{"error": {kind, message}}`.
 * - WebSocket `/api/events` (Origin must be ours; cookie, bearer or `?token=`) → one ServerEvent per message.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname as osHostname, networkInterfaces } from 'node:os';
import type { Duplex } from 'node:stream';
import { resolve } from 'node:path';
import { WebSocketServer, WebSocket } from 'ws';
import { ApiError, clipText, LIMITS, type ApiErrorKind } from '../../shared/api';
import type { ApiService } from '../api/service';
import { toApiError } from '../common/errors';
import { contentTypeOf, resolveInside, statInside } from '../static-files';
import { parseJsonBody, readRequestBody } from './http-body';
import { containsTypedArray, encodeFrame, FRAME_MIME, toJsonWire } from '../../shared/wire-binary';

/** The name of the cookie that carries the token. */
export const TOKEN_COOKIE = 'inkwell_token';
/** Largest request body accepted (a maximal prompt plus memory in UTF-8 fits). */
export const DEFAULT_MAX_BODY_BYTES = 12 * 1024 * 1024;
/** A client that lets this much pile up unread is cut off rather than held in memory. */
const MAX_SOCKET_BACKLOG_BYTES = 16 * 1024 * 1024;
const HEARTBEAT_MS = 30_000;

/** The API the transport exposes. */
export type ServedApi = Pick<ApiService, 'handle' | 'subscribe'>;

/** Options of the HTTP + WebSocket server. */
export interface HttpWsServerOptions {
  api: ServedApi;
  /** The built renderer (out/renderer). */
  rendererDir: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Defaults to 32 random bytes in hex. */
  token?: string;
  maxBodyBytes?: number;
  /**
   * Routes mounted beside the app (serve mode's OpenAI-compatible /v1): requests whose path they
   * own go to them after the Host check, and they authenticate on their own (Bearer only, no cookie).
   */
  mounted?: MountedRoutes;
  log?: (line: string) => void;
}

/** Routes a transport mounts (transports/openai/routes.ts OpenAiRoutes satisfies it). */
export interface MountedRoutes {
  owns(path: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Ends their running work; called before the server closes. */
  close(): Promise<void>;
}

/** A running server. */
export interface HttpWsServer {
  /** What to open: `http://HOST:PORT/?token=TOKEN`. */
  url: string;
  /** `http://HOST:PORT`. */
  origin: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const statusOfKind: Record<ApiErrorKind, number> = {
  invalid_request: 400,
  unauthorized: 401,
  refused: 403,
  not_found: 404,
  // https://www.rfc-editor.org/rfc/rfc6585#section-4: "too many requests"; the client may retry later.
  busy: 429,
  read_only: 503,
  // https://www.rfc-editor.org/rfc/rfc4918#section-11.5
  disk_full: 507,
  cancelled: 409,
  model_error: 500,
  internal: 500,
  engine_crashed: 503,
};

/** Starts serving; resolves once listening. */
export async function startHttpWsServer(options: HttpWsServerOptions): Promise<HttpWsServer> {
  const { api } = options;
  const log = options.log ?? (() => {});
  const token = options.token ?? randomBytes(32).toString('hex');
  const tokenDigest = digest(token);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const rendererRoot = await realpath(resolve(options.rendererDir));
  const tokenMatches = (candidate: string | undefined | null): boolean =>
    typeof candidate === 'string' && candidate.length > 0 && candidate.length <= 256 && timingSafeEqual(digest(candidate), tokenDigest);

  const wildcardHost = isWildcardHost(options.host);
  let origins = new Set<string>();
  let port = 0;
  const machineNames = cachedMachineNames();
  let contentSecurityPolicy = '';

  const server = createServer((req, res) => {
    handleRequest(req, res).catch((error: unknown) => {
      log(`serve: ${req.method} ${req.url?.slice(0, 200)} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      if (!res.headersSent) sendJson(res, 500, { error: { kind: 'internal', message: 'internal server error' } });
      else res.destroy();
    });
  });
  // Slow-loris protection for a server anyone on the bound interface can reach.
  server.headersTimeout = 20_000;
  server.requestTimeout = 120_000;

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const alive = new WeakSet<WebSocket>();

  function isAuthorized(req: IncomingMessage, query: URLSearchParams | null): boolean {
    const cookies = parseCookies(req.headers.cookie);
    if (cookies.some(([name, value]) => name === TOKEN_COOKIE && tokenMatches(value))) return true;
    const authorization = req.headers.authorization;
    if (authorization?.startsWith('Bearer ') && tokenMatches(authorization.slice('Bearer '.length).trim())) return true;
    return query !== null && tokenMatches(query.get('token'));
  }

  /**
   * DNS rebinding: a hostile page whose name now resolves to this machine sends Host (and Origin)
   * with its own name. Only names of this server pass: the bound host, or on a wildcard bind this
   * machine's own names and addresses. https://en.wikipedia.org/wiki/DNS_rebinding#Protection
   */
  function hostAllowed(req: IncomingMessage): boolean {
    const host = parseHostHeader(req.headers.host);
    if (!host || (host.port !== null && host.port !== port)) return false;
    if (wildcardHost) return machineNames().has(host.name);
    return [...origins].some((origin) => origin === `http://${hostForUrl(host.name)}:${port}`);
  }

  function originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    // Browsers always send Origin on WebSocket and cross-origin requests; a client without one is not a browser page.
    if (origin === undefined) return true;
    if (origins.has(origin.toLowerCase())) return true;
    // Bound to every interface, the page's origin is whatever name of this machine the browser used (Host is checked first).
    return wildcardHost && origin.toLowerCase() === `http://${String(req.headers.host).toLowerCase()}`;
  }

  function setCommonHeaders(res: ServerResponse): void {
    res.setHeader('Content-Security-Policy', contentSecurityPolicy);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  }

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    setCommonHeaders(res);
    const { path, query } = splitTarget(req.url ?? '/');
    const method = req.method ?? 'GET';
    const isApi = path === '/api' || path.startsWith('/api/');
    if (!hostAllowed(req)) {
      res.setHeader('Cache-Control', 'no-store');
      return sendError(res, 421, new ApiError('unauthorized', `the Host header ${JSON.stringify(clipText(String(req.headers.host ?? ''), 100))} does not name this server`));
    }

    if (options.mounted?.owns(path)) return options.mounted.handle(req, res);

    if (path === '/' && query.has('token') && (method === 'GET' || method === 'HEAD')) {
      if (!tokenMatches(query.get('token'))) return sendUnauthorized(res, false);
      res.setHeader('Set-Cookie', `${TOKEN_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`);
      res.setHeader('Cache-Control', 'no-store');
      res.writeHead(302, { Location: '/' });
      res.end();
      return;
    }
    if (!isAuthorized(req, null)) return sendUnauthorized(res, isApi);

    if (isApi) {
      res.setHeader('Cache-Control', 'no-store');
      const callPrefix = '/api/call/';
      if (path.startsWith(callPrefix)) {
        if (method !== 'POST') {
          res.setHeader('Allow', 'POST');
          return sendError(res, 405, new ApiError('invalid_request', `${method} is not allowed here; use POST`));
        }
        if (!originAllowed(req)) return sendError(res, 403, new ApiError('unauthorized', 'cross-origin requests are refused'));
        return callMethod(req, res, safeDecode(path.slice(callPrefix.length)) ?? '');
      }
      if (path === '/api/events') return sendError(res, 426, new ApiError('invalid_request', 'connect with a WebSocket'));
      return sendError(res, 404, new ApiError('not_found', `no API at ${path.slice(0, 200)}`));
    }

    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendText(res, 405, 'method not allowed');
    }
    const file = await resolveStaticFile(rendererRoot, path);
    if (!file) return sendText(res, 404, 'not found');
    const type = contentTypeOf(file.path);
    res.writeHead(200, {
      'Content-Type': type,
      'Content-Length': String(file.size),
      'Cache-Control': type.startsWith('text/html') ? 'no-store' : 'no-cache',
    });
    if (method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file.path)
      .on('error', () => res.destroy())
      .pipe(res);
  }

  async function callMethod(req: IncomingMessage, res: ServerResponse, apiMethod: string): Promise<void> {
    const body = await readRequestBody(req, maxBodyBytes);
    if (body === 'too_large') {
      res.setHeader('Connection', 'close');
      return sendError(res, 413, new ApiError('invalid_request', `the request body is larger than ${maxBodyBytes} bytes`));
    }
    let payload: unknown = {};
    if (body.length > 0) {
      const type = req.headers['content-type'] ?? '';
      // A JSON content type cannot be sent cross-site without a CORS preflight, which this server never grants.
      if (!/^application\/json\s*(;|$)/i.test(type)) {
        return sendError(res, 415, new ApiError('invalid_request', 'the request body must be application/json'));
      }
      const json = parseJsonBody(body);
      if (!json.ok) return sendError(res, 400, new ApiError('invalid_request', json.problem));
      payload = json.value;
    }
    try {
      const result = await api.handle(apiMethod, payload);
      sendResult(res, req.headers.accept ?? '', result ?? null);
    } catch (error) {
      const apiError = toApiError(error);
      sendError(res, statusOfKind[apiError.kind], apiError);
    }
  }

  function sendUnauthorized(res: ServerResponse, asJson: boolean): void {
    res.setHeader('Cache-Control', 'no-store');
    if (asJson) return sendError(res, 401, new ApiError('unauthorized', 'missing or wrong token: open the URL that `inkwell serve` printed'));
    sendText(res, 401, 'Unauthorized: open the URL that `inkwell serve` printed (it carries the access token).');
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const { path, query } = splitTarget(req.url ?? '/');
    if (path !== '/api/events') return refuseUpgrade(socket, 404, 'Not Found');
    if (!hostAllowed(req)) return refuseUpgrade(socket, 421, 'Misdirected Request');
    if (!originAllowed(req)) return refuseUpgrade(socket, 403, 'Forbidden');
    if (!isAuthorized(req, query)) return refuseUpgrade(socket, 401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws));
  });

  function onConnection(ws: WebSocket): void {
    alive.add(ws);
    const unsubscribe = api.subscribe((event) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      if (ws.bufferedAmount > MAX_SOCKET_BACKLOG_BYTES) {
        log('serve: an event subscriber stopped reading; disconnecting it');
        ws.terminate();
        return;
      }
      ws.send(JSON.stringify(event));
    });
    ws.on('pong', () => alive.add(ws));
    ws.on('error', () => ws.terminate());
    ws.on('close', unsubscribe);
  }

  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.has(ws)) {
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
  }, HEARTBEAT_MS);
  heartbeat.unref();

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(options.port, options.host, () => {
      server.off('error', rejectListen);
      resolveListen();
    });
  });
  server.on('error', (error) => log(`serve: server error: ${error.message}`));

  port = (server.address() as AddressInfo).port;
  const origin = `http://${hostForUrl(options.host)}:${port}`;
  origins = allowedOrigins(options.host, port);
  contentSecurityPolicy = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    // CSP host-sources cannot express IPv6 literals (Chromium reports `ws://[::1]:…` as invalid); 'self' covers them.
    `connect-src 'self' ${[...origins].filter((o) => !o.includes('[')).map((o) => o.replace(/^http:/, 'ws:')).join(' ')}`.trimEnd(),
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');

  let closing: Promise<void> | null = null;
  return {
    url: `${origin}/?token=${token}`,
    origin,
    port,
    token,
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat);
        await options.mounted?.close();
        for (const ws of wss.clients) ws.close(1001, 'the server is shutting down');
        await new Promise<void>((done) => {
          server.close(() => done());
          server.closeIdleConnections();
          setTimeout(() => {
            for (const ws of wss.clients) ws.terminate();
            server.closeAllConnections();
          }, 1_000).unref();
        });
        await new Promise<void>((done) => wss.close(() => done()));
      })();
      return closing;
    },
  };
}

/** Hosts that bind every interface. */
export function isWildcardHost(host: string): boolean {
  return ['0.0.0.0', '::', '::0', '0:0:0:0:0:0:0:0', '[::]'].includes(host.trim().toLowerCase());
}

/** What to tell the person starting the server when it is reachable from other machines; null on loopback. */
export function bindWarning(host: string): string | null {
  const name = host.trim().toLowerCase();
  if (['127.0.0.1', 'localhost', '::1', '[::1]'].includes(name) || name.startsWith('127.')) return null;
  const where = isWildcardHost(host) ? `on every interface (${host})` : `on ${host}`;
  return (
    `warning: serving plain HTTP ${where}: anyone who can reach this machine and has the token can use Inkwell, and the ` +
    `token and your text travel unencrypted. Keep the default --host 127.0.0.1 unless you need this; an SSH tunnel or a TLS proxy is safer.`
  );
}

/** The host name (lower case, IPv6 without brackets) and port of a Host header; null when it is malformed. */
function parseHostHeader(header: string | undefined): { name: string; port: number | null } | null {
  if (!header) return null;
  const match = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/i.exec(header.trim());
  if (!match) return null;
  const name = (match[1] ?? match[2] ?? '').toLowerCase().replace(/\.$/, '');
  return { name, port: match[3] === undefined ? null : Number(match[3]) };
}

/** This machine's names and addresses (loopback included), re-read every few seconds: addresses change. */
function cachedMachineNames(): () => Set<string> {
  let names = new Set<string>();
  let readAt = -Infinity;
  return () => {
    if (Date.now() - readAt < 5_000) return names;
    readAt = Date.now();
    const hostname = osHostname().toLowerCase();
    const found = ['localhost', '127.0.0.1', '::1', hostname, `${hostname}.local`, hostname.split('.')[0] ?? hostname];
    for (const addresses of Object.values(networkInterfaces())) {
      for (const address of addresses ?? []) found.push(address.address.toLowerCase().replace(/%.*$/, ''));
    }
    names = new Set(found.filter((name) => name.length > 0));
    return names;
  };
}

/** Splits a request target into its path and query without letting `//host` be read as an authority. */
function splitTarget(target: string): { path: string; query: URLSearchParams } {
  const at = target.indexOf('?');
  const path = at >= 0 ? target.slice(0, at) : target;
  return { path: path.startsWith('/') ? path : `/${path}`, query: new URLSearchParams(at >= 0 ? target.slice(at + 1) : '') };
}

function safeDecode(value: string): string | null {
  try {
    return decodeURIComponent(value);
  } catch {
    return null;
  }
}

/** Maps a request path to a regular file inside `root` (a real path), or null; see static-files.ts. */
async function resolveStaticFile(root: string, path: string): Promise<{ path: string; size: number } | null> {
  const decoded = safeDecode(path);
  const candidate = decoded === null ? null : resolveInside(root, decoded);
  return candidate === null ? null : statInside(root, candidate);
}

function parseCookies(header: string | undefined): [string, string][] {
  if (!header) return [];
  return header.split(';').flatMap((part) => {
    const at = part.indexOf('=');
    if (at < 0) return [];
    return [[part.slice(0, at).trim(), part.slice(at + 1).trim()] as [string, string]];
  });
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The origins a page of ours can have: the bound host and, on loopback, its other names. */
function allowedOrigins(host: string, port: number): Set<string> {
  const loopback = ['127.0.0.1', 'localhost', '::1'];
  const names = loopback.includes(host.toLowerCase()) ? loopback : [host];
  return new Set(names.map((name) => `http://${hostForUrl(name.toLowerCase())}:${port}`));
}

function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}

/**
 * A result with typed arrays (the inspector's payloads) goes as a binary frame to a client that
 * accepts one, else as JSON with the arrays in base64 (src/shared/wire-binary.ts).
 */
function sendResult(res: ServerResponse, accept: string, result: unknown): void {
  if (!containsTypedArray(result)) return sendJson(res, 200, { result });
  if (accept.includes(FRAME_MIME)) {
    const frame = encodeFrame({ result });
    res.writeHead(200, { 'Content-Type': FRAME_MIME, 'Content-Length': String(frame.byteLength) });
    res.end(frame);
    return;
  }
  sendJson(res, 200, { result: toJsonWire(result) });
}

function sendError(res: ServerResponse, status: number, error: ApiError): void {
  sendJson(res, status, { error: { kind: error.kind, message: clipText(error.message, LIMITS.maxErrorChars) } });
}


function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}
