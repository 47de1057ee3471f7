/**
 * Serve mode's transport against a scripted API: token and cookie flow,
 * 401s, WebSocket Origin/token checks, static files without traversal,
 * security headers, body limits and error mapping.
 */
import { request } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { bindWarning, startHttpWsServer, type HttpWsServer } from '../../../src/main/transports/http-ws';
import type { ServerEvent } from '../../../src/shared/api';
import { useTempDirs } from '../../helpers/tmp';
import { ScriptedApi, makeRenderer } from './fixtures';

const tempDir = useTempDirs('inkwell-serve-');
const servers: HttpWsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(options: { maxBodyBytes?: number; host?: string } = {}) {
  const api = new ScriptedApi();
  const server = await startHttpWsServer({ api, rendererDir: makeRenderer(tempDir()), host: '127.0.0.1', port: 0, ...options });
  servers.push(server);
  return { api, server };
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** An HTTP request with the path sent exactly as given (fetch would normalise `..`). */
function raw(server: HttpWsServer, path: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const cookieOf = (server: HttpWsServer) => ({ Cookie: `inkwell_token=${server.token}` });

function call(server: HttpWsServer, method: string, body: unknown, headers: Record<string, string> = cookieOf(server)) {
  return raw(server, `/api/call/${method}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

function openSocket(url: string, headers: Record<string, string>): Promise<{ ws: WebSocket; messages: ServerEvent[] } | { refused: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    const messages: ServerEvent[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(String(data)) as ServerEvent));
    ws.on('open', () => resolve({ ws, messages }));
    ws.on('unexpected-response', (_req, res) => {
      resolve({ refused: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.on('error', () => {});
  });
}

describe('serve transport', () => {
  it('prints a URL of the form http://127.0.0.1:PORT/?token=<64 hex>', async () => {
    const { server } = await start();
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
    expect(server.url).toBe(`${server.origin}/?token=${server.token}`);
    const other = await start();
    expect(other.server.token).not.toBe(server.token);
    expect(other.server.port).not.toBe(server.port);
  });

  it('answers 401 without the token, for static files and the API', async () => {
    const { server, api } = await start();
    for (const path of ['/', '/index.html', '/assets/app.js', '/nope']) {
      const res = await raw(server, path);
      expect(res.status, path).toBe(401);
      expect(res.body).not.toContain('Inkwell</title>');
    }
    const res = await call(server, 'app.info', {}, {});
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toEqual({ error: { kind: 'unauthorized', message: expect.any(String) } });
    const wrong: Record<string, string>[] = [{ Cookie: 'inkwell_token=wrong' }, { Authorization: `Bearer ${server.token}x` }, { Cookie: `inkwell_token=${server.token.slice(0, 10)}` }];
    for (const headers of wrong) {
      expect((await call(server, 'app.info', {}, headers)).status).toBe(401);
    }
    expect((await raw(server, '/?token=wrong')).status).toBe(401);
    expect(api.calls).toEqual([]);
  });

  it('exchanges ?token= for an HttpOnly SameSite=Strict cookie and redirects to /', async () => {
    const { server } = await start();
    const res = await raw(server, `/?token=${server.token}`);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/');
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toContain(`inkwell_token=${server.token}`);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\//);

    const page = await raw(server, '/', { headers: { Cookie: cookie.split(';')[0] ?? '' } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>Inkwell</title>');
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('serves static files with their content types and strict security headers', async () => {
    const { server } = await start();
    const js = await raw(server, '/assets/app.js', { headers: cookieOf(server) });
    expect(js.status).toBe(200);
    expect(js.body).toBe('console.log(1)');
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await raw(server, '/assets/style.css', { headers: cookieOf(server) })).headers['content-type']).toBe('text/css; charset=utf-8');
    const csp = String(js.headers['content-security-policy']);
    for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", `connect-src 'self' ws://127.0.0.1:${server.port}`, "img-src 'self' data:", "object-src 'none'", "frame-ancestors 'none'"]) {
      expect(csp).toContain(directive);
    }
    // Chromium rejects IPv6 literals in CSP host-sources with a console error.
    expect(csp).not.toContain('[');
    expect(js.headers['x-content-type-options']).toBe('nosniff');
    const api = await call(server, 'app.info', {});
    expect(api.headers['cache-control']).toBe('no-store');
    expect(api.headers['x-content-type-options']).toBe('nosniff');
    const head = await raw(server, '/assets/app.js', { method: 'HEAD', headers: cookieOf(server) });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect((await raw(server, '/assets/app.js', { method: 'DELETE', headers: cookieOf(server) })).status).toBe(405);
  });

  it('never serves a file outside the renderer folder', async () => {
    const { server } = await start();
    const attempts = [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2E%2E/secret.txt',
      '/assets/%2e%2e/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/%2e%2e%2fsecret.txt',
      '/..%5csecret.txt',
      '/%252e%252e/secret.txt',
      `/${join(tempDir(), 'secret.txt')}`,
      '//etc/passwd',
      '/etc/passwd',
      '/assets/',
      '/assets',
      '/index.html%00.js',
      '/%ff',
    ];
    for (const path of attempts) {
      const res = await raw(server, path, { headers: cookieOf(server) });
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('TOP SECRET');
    }
    // A target without a leading slash is refused by Node's HTTP parser itself.
    const relative = await raw(server, 'secret.txt', { headers: cookieOf(server) });
    expect(relative.status).toBe(400);
    expect(relative.body).not.toContain('TOP SECRET');
  });

  it('calls the API: result envelope, typed errors with HTTP statuses, body and JSON checks', async () => {
    const { server, api } = await start({ maxBodyBytes: 1024 });
    expect(JSON.parse((await call(server, 'app.info', {})).body)).toEqual({ result: { version: '1', dataDir: '/d', transport: 'http', nativeFileDialogs: false } });
    expect(JSON.parse((await call(server, 'void', {})).body)).toEqual({ result: null });

    const bearer = await call(server, 'app.info', {}, { Authorization: `Bearer ${server.token}` });
    expect(bearer.status).toBe(200);

    const notFound = await call(server, 'history.get', { id: 1 });
    expect(notFound.status).toBe(404);
    expect(JSON.parse(notFound.body)).toEqual({ error: { kind: 'not_found', message: 'no history.get' } });
    expect((await call(server, 'generate.start', {})).status).toBe(503);
    const internal = await call(server, 'boom', {});
    expect(internal.status).toBe(500);
    expect(JSON.parse(internal.body)).toEqual({ error: { kind: 'internal', message: 'not an ApiError' } });

    const badJson = await raw(server, '/api/call/app.info', { method: 'POST', headers: { ...cookieOf(server), 'Content-Type': 'application/json' }, body: '{"a":' });
    expect(badJson.status).toBe(400);
    expect(JSON.parse(badJson.body).error.kind).toBe('invalid_request');

    const tooLarge = await raw(server, '/api/call/app.info', { method: 'POST', headers: { ...cookieOf(server), 'Content-Type': 'application/json' }, body: JSON.stringify({ text: 'x'.repeat(4000) }) });
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.body).error).toMatchObject({ kind: 'invalid_request', message: expect.stringContaining('1024 bytes') });

    const formPost = await raw(server, '/api/call/app.info', { method: 'POST', headers: { ...cookieOf(server), 'Content-Type': 'text/plain' }, body: '{}' });
    expect(formPost.status).toBe(415);
    expect((await raw(server, '/api/call/app.info', { headers: cookieOf(server) })).status).toBe(405);
    expect((await raw(server, '/api/elsewhere', { headers: cookieOf(server) })).status).toBe(404);

    const crossOrigin = await call(server, 'app.info', {}, { ...cookieOf(server), Origin: 'http://evil.example' });
    expect(crossOrigin.status).toBe(403);
    const sameOrigin = await call(server, 'app.info', {}, { ...cookieOf(server), Origin: server.origin });
    expect(sameOrigin.status).toBe(200);

    expect(api.calls.map(([method]) => method)).toEqual(['app.info', 'void', 'app.info', 'history.get', 'generate.start', 'boom', 'app.info']);
  });

  it('refuses hostile JSON bodies cheaply and briefly: deep nesting, invalid UTF-8, huge echoes (fault 3.6)', async () => {
    const { server, api } = await start();
    const post = (body: string | Buffer) => raw(server, '/api/call/app.info', { method: 'POST', headers: { ...cookieOf(server), 'Content-Type': 'application/json' }, body });

    // 10 MB of `[[[…]]]` used to block the event loop for ~1.8 s inside JSON.parse.
    const deep = await post(`${'['.repeat(5_000_000)}${']'.repeat(5_000_000)}`);
    expect(deep.status).toBe(400);
    expect(JSON.parse(deep.body).error).toEqual({ kind: 'invalid_request', message: 'the request body nests deeper than 32 levels' });
    // Brackets inside strings are text, not nesting.
    expect((await post(JSON.stringify({ text: '['.repeat(1000) }))).status).toBe(200);
    expect((await post(JSON.stringify({ a: [[[[{ b: [1] }]]]] }))).status).toBe(200);

    // "caf\xE9" in Latin-1 is not UTF-8; it used to be stored as "caf\uFFFD".
    const latin1 = await post(Buffer.concat([Buffer.from('{"text":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]));
    expect(latin1.status).toBe(400);
    expect(JSON.parse(latin1.body).error).toEqual({ kind: 'invalid_request', message: 'the request body is not valid UTF-8' });
    const overlong = await post(Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]));
    expect(overlong.status).toBe(400);
    expect((await post(JSON.stringify({ text: 'café ☕ 𝄞' }))).status).toBe(200);

    // An error that would repeat a 5 M-character request comes back clipped.
    const echoed = await raw(server, '/api/call/echo', { method: 'POST', headers: { ...cookieOf(server), 'Content-Type': 'application/json' }, body: JSON.stringify({ ['k'.repeat(5_000_000)]: 1 }) });
    expect(echoed.status).toBe(400);
    expect(echoed.body.length).toBeLessThan(1_000);
    expect(JSON.parse(echoed.body).error.message).toMatch(/^echo: \{"kkk+…$/);
    expect(api.calls.map(([method]) => method)).toEqual(['app.info', 'app.info', 'app.info', 'echo']);
  });

  it('bound to every interface, refuses a DNS-rebinding page: Host must name this machine (fault 3.7)', async () => {
    const { server, api } = await start({ host: '0.0.0.0' });
    const at = (host: string) => ({ ...cookieOf(server), Host: `${host}:${server.port}`, Origin: `http://${host}:${server.port}` });
    // The page at evil.example, whose name now resolves to this machine: same Host and Origin, valid token in the cookie.
    const rebound = await call(server, 'app.info', {}, at('evil.example'));
    expect(rebound.status).toBe(421);
    expect(JSON.parse(rebound.body).error).toMatchObject({ kind: 'unauthorized', message: expect.stringContaining('does not name this server') });
    expect((await raw(server, '/', { headers: at('evil.example') })).status).toBe(421);
    const socket = await openSocket(`ws://127.0.0.1:${server.port}/api/events`, at('evil.example'));
    expect(socket).toEqual({ refused: 421 });
    expect(api.calls).toEqual([]);

    // This machine's own names and addresses still work.
    const ownAddress = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    for (const name of ['127.0.0.1', 'localhost', hostname(), ...(ownAddress ? [ownAddress] : [])]) {
      expect((await call(server, 'app.info', {}, at(name))).status, name).toBe(200);
    }
    // A port that is not ours is someone else's page.
    expect((await call(server, 'app.info', {}, { ...cookieOf(server), Host: `127.0.0.1:${server.port + 1}` })).status).toBe(421);
  });

  it('bound to loopback, accepts only loopback names in Host', async () => {
    const { server } = await start();
    expect((await call(server, 'app.info', {}, { ...cookieOf(server), Host: `evil.example:${server.port}` })).status).toBe(421);
    expect((await call(server, 'app.info', {}, { ...cookieOf(server), Host: `localhost:${server.port}` })).status).toBe(200);
  });

  it('warns that a server reachable from other machines is plain HTTP, and says nothing on loopback', () => {
    expect(bindWarning('127.0.0.1')).toBeNull();
    expect(bindWarning('::1')).toBeNull();
    expect(bindWarning('0.0.0.0')).toMatch(/^warning: serving plain HTTP on every interface \(0\.0\.0\.0\): .*unencrypted/);
    expect(bindWarning('::')).toMatch(/on every interface/);
    expect(bindWarning('192.168.1.5')).toMatch(/^warning: serving plain HTTP on 192\.168\.1\.5/);
  });

  it('streams events over the WebSocket to an authorised page of our own origin', async () => {
    const { server, api } = await start();
    const eventsUrl = `ws://127.0.0.1:${server.port}/api/events`;
    const connected = await openSocket(eventsUrl, { Origin: server.origin, ...cookieOf(server) });
    if (!('ws' in connected)) throw new Error(`refused with ${connected.refused}`);
    const event: ServerEvent = { channel: 'generation', event: { type: 'delta', generationId: 'g1', sequence: 0, text: ' hi' } };
    api.emit(event);
    while (connected.messages.length === 0) await new Promise((r) => setTimeout(r, 2));
    expect(connected.messages).toEqual([event]);
    connected.ws.close();
    for (let i = 0; i < 200 && api.listeners.size > 0; i += 1) await new Promise((r) => setTimeout(r, 5));
    expect(api.listeners.size).toBe(0);

    const byQuery = await openSocket(`${eventsUrl}?token=${server.token}`, { Origin: server.origin });
    expect('ws' in byQuery).toBe(true);
    if ('ws' in byQuery) byQuery.ws.close();
  });

  it('refuses WebSocket connections without the token or from another origin', async () => {
    const { server, api } = await start();
    const eventsUrl = `ws://127.0.0.1:${server.port}/api/events`;
    expect(await openSocket(eventsUrl, { Origin: server.origin })).toEqual({ refused: 401 });
    expect(await openSocket(`${eventsUrl}?token=nope`, { Origin: server.origin })).toEqual({ refused: 401 });
    expect(await openSocket(eventsUrl, { Origin: 'http://evil.example', ...cookieOf(server) })).toEqual({ refused: 403 });
    expect(await openSocket(`${eventsUrl}?token=${server.token}`, { Origin: `http://127.0.0.1:${server.port + 1}` })).toEqual({ refused: 403 });
    expect(await openSocket(`ws://127.0.0.1:${server.port}/elsewhere`, { Origin: server.origin, ...cookieOf(server) })).toEqual({ refused: 404 });
    expect(api.listeners.size).toBe(0);
  });

  it('close() disconnects event subscribers and stops listening', async () => {
    const { server } = await start();
    const connected = await openSocket(`ws://127.0.0.1:${server.port}/api/events`, { Origin: server.origin, ...cookieOf(server) });
    if (!('ws' in connected)) throw new Error('refused');
    const closed = new Promise<number>((resolve) => connected.ws.on('close', (code) => resolve(code)));
    await server.close();
    expect(await closed).toBe(1001);
    await expect(raw(server, '/', { headers: cookieOf(server) })).rejects.toThrow();
  });
});
