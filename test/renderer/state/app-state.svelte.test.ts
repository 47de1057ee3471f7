import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/shared/api';
import { createMockApi } from '../../../src/renderer/src/api/mock';
import { AppState, engineCrashMessage } from '../../../src/renderer/src/state/app.svelte';

describe('AppState', () => {
  it('tells the user once when the inference process crashes', async () => {
    const api = createMockApi({ sampleData: true, callDelayMs: 0 });
    const app = new AppState(api);
    await app.start();
    const crashed = { state: 'crashed' as const, message: 'killed by SIGKILL', loaded: [], devices: [], cudaInstalled: false };
    api.emit({ channel: 'engine', status: crashed });
    api.emit({ channel: 'engine', status: crashed });
    app.reportError(new ApiError('engine_crashed', 'the inference process exited'), 'Generation failed');
    const crashNotices = app.notices.filter((n) => n.message.startsWith(engineCrashMessage));
    expect(crashNotices).toHaveLength(1);
    expect(crashNotices[0]!.tone).toBe('error');
    expect(app.engine?.state).toBe('crashed');
  });

  it('shows start-up notices from app.info and keeps cancelled errors quiet', async () => {
    const api = createMockApi({ callDelayMs: 0 });
    const info = await api.call('app.info', {});
    const app = new AppState({ ...api, call: (method, params) => (method === 'app.info' ? Promise.resolve({ ...info, notices: ['The history database was damaged and set aside.'] }) : api.call(method, params)) } as typeof api);
    await app.start();
    expect(app.notices.map((n) => n.message)).toContain('The history database was damaged and set aside.');
    app.reportError(new ApiError('cancelled', 'stopped'), 'Generation failed');
    expect(app.notices).toHaveLength(1);
  });

  it('resolves the theme from settings and the OS preference', async () => {
    const app = new AppState(createMockApi({ callDelayMs: 0 }));
    await app.start();
    app.setPrefersDark(true);
    expect(app.theme).toBe('dark');
    await app.updateSettings({ theme: 'light' });
    expect(app.theme).toBe('light');
    expect(app.settings.theme).toBe('light');
  });

  it('keeps visited pages mounted and remembers the current one', () => {
    const app = new AppState(createMockApi({ callDelayMs: 0 }));
    app.showPage('history');
    app.showPage('write');
    expect(app.page).toBe('write');
    expect(app.visited).toEqual(['write', 'history']);
  });
});
