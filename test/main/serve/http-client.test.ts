/**
 * The browser's serve-mode client (src/renderer/src/api/http-client.ts)
 * against the real transport. Node has no cookie jar and no browser
 * WebSocket, so the test injects fetch and socket factories that add what a
 * browser would send (the cookie, the page's Origin).
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHttpWsServer, type HttpWsServer } from '../../../src/main/transports/http-ws';
import { createHttpApi, type FetchLike, type SocketLike } from '../../../src/renderer/src/api/http-client';
import { ApiError, type InkwellApi, type ServerEvent } from '../../../src/shared/api';
import { useTempDirs } from '../../helpers/tmp';
import { ScriptedApi, makeRenderer } from './fixtures';

const tempDir = useTempDirs('inkwell-http-client-');
const servers: HttpWsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(options: { port?: number; token?: string; api?: ScriptedApi } = {}) {
  const api = options.api ?? new ScriptedApi();
  const server = await startHttpWsServer({ api, rendererDir: makeRenderer(tempDir()), host: '127.0.0.1', port: options.port ?? 0, ...(options.token ? { token: options.token } : {}) });
  servers.push(server);
  return { api, server };
}

function browserLikeClient(server: HttpWsServer): InkwellApi {
  const cookie = `inkwell_token=${server.token}`;
  const fetchWithCookie: FetchLike = (url, init) => fetch(url, { ...init, headers: { ...init.headers, Cookie: cookie } });
  return createHttpApi({
    baseUrl: server.origin,
    fetch: fetchWithCookie,
    createSocket: (url) => new WebSocket(url, { headers: { Origin: server.origin, Cookie: cookie } }) as unknown as SocketLike,
    initialReconnectMs: 20,
    maxReconnectMs: 100,
  });
}

async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !predicate(); i += 1) await new Promise((r) => setTimeout(r, 5));
  expect(predicate()).toBe(true);
}

describe('createHttpApi', () => {
  it('typed-array results travel as a binary frame to the app and as base64 JSON to scripts', async () => {
    const data = new Uint16Array([1, 2, 0x3c00, 65535]);
    const api = new ScriptedApi();
    const handle = api.handle.bind(api);
    api.handle = async (method, payload) => (method === 'inspect.attention' ? { layer: 0, heads: 1, seqLen: 2, encoding: 'f16-tril', data } : handle(method, payload));
    const { server } = await serve({ api });
    const client = browserLikeClient(server);
    const result = (await client.call('inspect.attention', { target: { modelId: 'tiny', text: 'a' }, layer: 0 })) as { data: Uint16Array };
    expect(result.data).toBeInstanceOf(Uint16Array);
    expect([...result.data]).toEqual([...data]);
    const plain = await fetch(`${server.origin}/api/call/inspect.attention`, { method: 'POST', headers: { Cookie: `inkwell_token=${server.token}`, 'Content-Type': 'application/json' }, body: '{}' });
    expect(plain.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await plain.json()) as { result: { data: { $typed: string; base64: string } } };
    expect(body.result.data).toEqual({ $typed: 'Uint16Array', base64: Buffer.from(data.buffer).toString('base64') });
  });

  it('returns results and rethrows typed errors as ApiError', async () => {
    const { server, api } = await serve();
    const client = browserLikeClient(server);
    expect(await client.call('app.info', {})).toEqual({ version: '1', dataDir: '/d', transport: 'http', nativeFileDialogs: false });
    const error = await client.call('history.get', { id: 3 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ kind: 'not_found', message: 'no history.get' });
    expect(api.calls).toEqual([['app.info', {}], ['history.get', { id: 3 }]]);
  });

  it('reports a refused token as unauthorized and an unreachable server as internal', async () => {
    const { server } = await serve();
    const noCookie = createHttpApi({ baseUrl: server.origin, fetch: (url, init) => fetch(url, init) });
    await expect(noCookie.call('app.info', {})).rejects.toMatchObject({ kind: 'unauthorized' });
    const nowhere = createHttpApi({ baseUrl: 'http://127.0.0.1:9', fetch: (url, init) => fetch(url, init) });
    await expect(nowhere.call('app.info', {})).rejects.toMatchObject({ kind: 'internal', message: expect.stringContaining('cannot be reached') });
  });

  it('delivers events to subscribers, stops after unsubscribe, and reconnects after the server comes back', async () => {
    const token = 'a'.repeat(64);
    const first = await serve({ token });
    const client = browserLikeClient(first.server);
    const received: ServerEvent[] = [];
    const unsubscribe = client.subscribe((event) => received.push(event));
    await until(() => first.api.listeners.size === 1);
    const engine: ServerEvent = { channel: 'engine', status: { state: 'ready', loaded: [], devices: [], cudaInstalled: false } };
    first.api.emit(engine);
    await until(() => received.length === 1);
    expect(received[0]).toEqual(engine);

    // The server restarts on the same port: the client reconnects by itself.
    const port = first.server.port;
    await first.server.close();
    servers.splice(servers.indexOf(first.server), 1);
    const second = await serve({ port, token });
    await until(() => second.api.listeners.size === 1);
    second.api.emit(engine);
    await until(() => received.length === 2);

    unsubscribe();
    await until(() => second.api.listeners.size === 0);
    second.api.emit(engine);
    await new Promise((r) => setTimeout(r, 50));
    expect(received).toHaveLength(2);
  });
});
