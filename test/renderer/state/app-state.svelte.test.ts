/**
 * The root state against the real API service: notices (one crash banner,
 * start-up notices), the theme, pages, and what a lost connection changes.
 */
import { describe, expect, it, vi } from 'vitest';
import { ApiError, type ServerEvent } from '../../../src/shared/api';
import type { ClientApi, ConnectionState } from '../../../src/renderer/src/api/client';
import { AppState } from '../../../src/renderer/src/state/app.svelte';
import { FakeEngine } from '../../helpers/fake-engine';
import { FakeEditor } from '../helpers/fake-editor';
import { useRendererBackend } from '../helpers/service-api';

const makeBackend = useRendererBackend();
const waitFor = <T>(fn: () => T | Promise<T>) => vi.waitFor(fn, { timeout: 5000, interval: 5 });

describe('AppState', () => {
  it('tells the user once, in one banner, when the inference process crashes', async () => {
    const backend = makeBackend({ engine: () => new FakeEngine({ pieces: Array.from({ length: 100 }, () => ' word'), stepMs: 5 }) });
    await backend.api.call('documents.create', { title: 'Crash', content: 'Before the crash.' });
    const app = new AppState(backend.api);
    app.write.attachEditor(new FakeEditor());
    await app.start();
    await app.write.continue();
    await waitFor(() => expect(app.write.candidates.phase).toBe('streaming'));
    backend.spawner.spawned[0]!.crash('SIGKILL');
    await waitFor(() => expect(app.engine?.state).toBe('crashed'));
    await waitFor(() => expect(app.write.candidates.phase).toBe('failed'));
    const banners = app.notices.filter((n) => /inference process stopped/i.test(n.message));
    expect(banners).toHaveLength(1);
    expect(banners[0]!.message.match(/inference process stopped/gi)).toHaveLength(1);
    expect(banners[0]!.message).toContain('SIGKILL');
    expect(banners[0]!.tone).toBe('error');
  });

  it('shows start-up notices from app.info and keeps cancelled errors quiet', async () => {
    const backend = makeBackend();
    const api: ClientApi = {
      call: async (method, params) => {
        const result = await backend.api.call(method, params);
        return method === 'app.info' ? ({ ...(result as object), notices: ['The history database was damaged and set aside.'] } as typeof result) : result;
      },
      subscribe: (listener) => backend.api.subscribe(listener),
    };
    const app = new AppState(api);
    await app.start();
    expect(app.notices.map((n) => n.message)).toContain('The history database was damaged and set aside.');
    app.reportError(new ApiError('cancelled', 'stopped'), 'Generation failed');
    expect(app.notices).toHaveLength(1);
  });

  it('resolves the theme from settings and the OS preference, and saves the setting', async () => {
    const backend = makeBackend();
    const app = new AppState(backend.api);
    await app.start();
    app.setPrefersDark(true);
    expect(app.theme).toBe('dark');
    await app.updateSettings({ theme: 'light' });
    expect(app.theme).toBe('light');
    expect((await backend.api.call('settings.get', {})).theme).toBe('light');
  });

  it('keeps visited pages mounted and remembers the current one', () => {
    const app = new AppState(makeBackend().api);
    app.showPage('history');
    app.showPage('write');
    expect(app.page).toBe('write');
    expect(app.visited).toEqual(['write', 'history']);
  });

  it('follows the connection: unreachable while it is lost, and the engine status is read again once it is back', async () => {
    const backend = makeBackend();
    const connection = new Set<(state: ConnectionState) => void>();
    const calls: string[] = [];
    const api: ClientApi = {
      call: (method, params) => {
        calls.push(method);
        return backend.api.call(method, params);
      },
      subscribe: (listener: (event: ServerEvent) => void) => backend.api.subscribe(listener),
      onConnectionChange: (listener) => {
        connection.add(listener);
        return () => connection.delete(listener);
      },
    };
    const app = new AppState(api);
    await app.start();
    expect(app.connection).toBe('connected');
    for (const listener of connection) listener('reconnecting');
    expect(app.connection).toBe('reconnecting');
    const statusCalls = calls.filter((m) => m === 'models.status').length;
    const revision = app.historyRevision;
    for (const listener of connection) listener('connected');
    expect(app.connection).toBe('connected');
    await waitFor(() => expect(calls.filter((m) => m === 'models.status').length).toBe(statusCalls + 1));
    expect(app.historyRevision).toBe(revision + 1);
    app.stop();
    expect(connection.size).toBe(0);
  });
});
