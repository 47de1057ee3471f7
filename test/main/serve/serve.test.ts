/**
 * `startServe` end to end: the real history database, model store and
 * inference process behind HTTP + WebSocket, driven by the browser client.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServe } from '../../../src/main/serve';
import { createHttpApi, type SocketLike } from '../../../src/renderer/src/api/http-client';
import { GenerationParams, type GenerationEvent, type InkwellApi, type ServerEvent } from '../../../src/shared/api';
import { makeRandomCheckpoint } from '../../helpers/checkpoint-factory';
import { useTempDirs } from '../../helpers/tmp';
import { buildInferenceProcess } from '../../helpers/build-inference-process';
import { makeRenderer } from './fixtures';

const tempDir = useTempDirs('inkwell-serve-mode-');
let built: Awaited<ReturnType<typeof buildInferenceProcess>>;
let checkpoint: string;

beforeAll(async () => {
  built = await buildInferenceProcess();
  checkpoint = join(tempDir(), 'ckpt');
  await makeRandomCheckpoint(checkpoint, { nLayer: 1, nEmbd: 16, nHead: 2, seed: 9 });
});
afterAll(() => built?.remove());

function clientFor(origin: string, token: string): InkwellApi {
  const cookie = `inkwell_token=${token}`;
  return createHttpApi({
    baseUrl: origin,
    fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, Cookie: cookie } }),
    createSocket: (url) => new WebSocket(url, { headers: { Origin: origin, Cookie: cookie } }) as unknown as SocketLike,
  });
}

describe('startServe', () => {
  it('prints the URL first, serves the app and the API, runs a generation, and keeps data across restarts', async () => {
    const home = tempDir();
    const rendererDir = makeRenderer(tempDir());
    // A corrupt database: set aside with a notice, which is printed after the URL.
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, 'inkwell.db'), 'this is not a database'.repeat(100));
    const lines: string[] = [];
    const serve = await startServe({ port: 0, host: '127.0.0.1', home, rendererDir, log: (line) => lines.push(line), inferenceEntry: built.entry });
    try {
      expect(lines[0]).toBe(serve.url);
      expect(lines[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
      expect(lines.slice(1).join('\n')).toMatch(/corrupt|set aside|moved/i);

      const unauthorized = await fetch(`${serve.origin}/`);
      expect(unauthorized.status).toBe(401);
      const login = await fetch(serve.url, { redirect: 'manual' });
      expect(login.status).toBe(302);

      const api = clientFor(serve.origin, serve.token);
      expect(await api.call('app.info', {})).toEqual({ version: expect.any(String), dataDir: home, transport: 'http', nativeFileDialogs: false, notices: [lines[1]] });
      await expect(api.call('files.open', {})).rejects.toMatchObject({ kind: 'refused' });
      const doc = await api.call('documents.create', { title: 'Story', content: 'Once upon a time' });
      await api.call('models.import', { path: checkpoint, id: 'tiny' });

      const events: ServerEvent[] = [];
      const socket = new WebSocket(`${serve.origin.replace('http', 'ws')}/api/events`, { headers: { Origin: serve.origin, Cookie: `inkwell_token=${serve.token}` } });
      socket.on('message', (data) => events.push(JSON.parse(String(data)) as ServerEvent));
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      const { generationId } = await api.call('generate.start', { modelId: 'tiny', prompt: 'Once upon a time', params: GenerationParams.parse({ maxNewTokens: 6, numReturnSequences: 2, seed: 1 }), documentId: doc.id });
      let last: GenerationEvent | undefined;
      for (let i = 0; i < 3000; i += 1) {
        last = events.flatMap((e) => (e.channel === 'generation' && e.event.generationId === generationId ? [e.event] : [])).at(-1);
        if (last?.type === 'done' || last?.type === 'error') break;
        await new Promise((r) => setTimeout(r, 10));
      }
      socket.close();
      if (last?.type !== 'done') throw new Error(`expected done, got ${JSON.stringify(last)}`);
      expect(last.result.sequences).toHaveLength(2);
      const entry = await api.call('history.get', { id: last.result.historyId });
      expect(entry).toMatchObject({ prompt: 'Once upon a time', documentId: doc.id, seed: 1 });
    } finally {
      await serve.close();
    }

    // Same home, new server: the document and the history entry are still there.
    const again = await startServe({ port: 0, host: '127.0.0.1', home, rendererDir, log: () => {}, inferenceEntry: built.entry });
    try {
      const api = clientFor(again.origin, again.token);
      expect(await api.call('documents.list', {})).toEqual([expect.objectContaining({ title: 'Story' })]);
      expect(await api.call('history.list', { query: 'Once upon' })).toMatchObject({ total: 1 });
    } finally {
      await again.close();
    }
  });

  it('refuses to start without a built renderer, leaving nothing open', async () => {
    const home = tempDir();
    await expect(startServe({ port: 0, host: '127.0.0.1', home, rendererDir: join(tempDir(), 'missing'), log: () => {} })).rejects.toThrow(/index\.html/);
    expect(existsSync(join(home, 'inkwell.db'))).toBe(false);
  });
});
