import { beforeEach, describe, expect, it, vi } from 'vitest';
import { BrowserWindow, FakeWebContents, fakeFrame, ipcMain, resetElectronMock } from '../../mocks/electron';
import type { FakeFrame } from '../../mocks/electron';
import { createApiService } from '../../../src/main/api/service';
import type { ApiServiceDeps } from '../../../src/main/api/service';
import { createOriginPolicy } from '../../../src/main/app/origins';
import { assertTrustedSender, registerElectronIpc } from '../../../src/main/transports/electron-ipc';
import type { IpcApiService } from '../../../src/main/transports/electron-ipc';
import { EVENT_CHANNEL, channelFor } from '../../../src/shared/bridge';
import { ApiError, methodNames, parseRequest } from '../../../src/shared/api';
import type { ServerEvent } from '../../../src/shared/api';
import type { WebContents } from 'electron';

vi.mock('electron', () => import('../../mocks/electron'));

const policy = createOriginPolicy({ isPackaged: true });
const appFrame = (): FakeFrame => fakeFrame('app://inkwell/index.html');

/** A service that validates like the real one (parseRequest) and records what reached it. */
function recordingService() {
  const listeners = new Set<(event: ServerEvent) => void>();
  const handle = vi.fn(async (method: string, payload: unknown) => {
    const { params } = parseRequest(method, payload);
    return { method, params };
  });
  const service: IpcApiService = {
    handle,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return { service, handle, emit: (event: ServerEvent) => listeners.forEach((l) => l(event)), listeners };
}

const statusEvent: ServerEvent = { channel: 'engine', status: { state: 'ready', loaded: [], devices: [], cudaInstalled: false } };

beforeEach(() => resetElectronMock());

describe('registerElectronIpc', () => {
  it('registers exactly one inkwell:<method> channel per API method', () => {
    registerElectronIpc({ service: recordingService().service, policy });
    expect([...ipcMain.handlers.keys()].sort()).toEqual(methodNames.map((m) => `inkwell:${m}`).sort());
  });

  it('passes a trusted call to the service and wraps the result in an envelope', async () => {
    const { service, handle } = recordingService();
    registerElectronIpc({ service, policy });
    const reply = await ipcMain.invoke(channelFor('history.get'), appFrame(), { id: 7 });
    expect(handle).toHaveBeenCalledWith('history.get', { id: 7 });
    expect(reply).toEqual({ ok: true, result: { method: 'history.get', params: { id: 7 } } });
  });

  it.each([
    ['a foreign origin', fakeFrame('https://evil.example/')],
    ['another app:// host', fakeFrame('app://evil/index.html')],
    ['a file: page', fakeFrame('file:///home/user/index.html')],
    ['about:blank', fakeFrame('about:blank')],
    ['a subframe of our own page', fakeFrame('app://inkwell/index.html', appFrame())],
    ['a destroyed frame', null],
  ])('refuses %s before the service sees anything', async (_what, frame) => {
    const { service, handle } = recordingService();
    const log = vi.fn();
    registerElectronIpc({ service, policy, log });
    const reply = await ipcMain.invoke(channelFor('documents.delete'), frame, { id: 1 });
    expect(handle).not.toHaveBeenCalled();
    expect(reply).toMatchObject({ ok: false, error: { kind: 'unauthorized' } });
    expect(log).toHaveBeenCalledWith(expect.stringContaining('inkwell:documents.delete'));
  });

  it.each([
    ['wrong types', { id: 'one' }],
    ['extra keys', { id: 1, extra: true }],
    ['a negative id', { id: -1 }],
  ])('answers a malformed payload (%s) with an invalid_request envelope', async (_what, payload) => {
    const { service } = recordingService();
    registerElectronIpc({ service, policy });
    const reply = await ipcMain.invoke(channelFor('history.get'), appFrame(), payload);
    expect(reply).toMatchObject({ ok: false, error: { kind: 'invalid_request' } });
  });

  it('refuses a call with more than one argument', async () => {
    const { service, handle } = recordingService();
    registerElectronIpc({ service, policy });
    const reply = await ipcMain.invoke(channelFor('history.get'), appFrame(), { id: 1 }, 'extra');
    expect(handle).not.toHaveBeenCalled();
    expect(reply).toMatchObject({ ok: false, error: { kind: 'invalid_request' } });
  });

  it('keeps the kind of a service error and turns anything else into internal', async () => {
    const service: IpcApiService = {
      handle: async (method) => {
        if (method === 'models.list') throw new ApiError('engine_crashed', 'the inference process stopped');
        throw new TypeError('boom');
      },
      subscribe: () => () => undefined,
    };
    registerElectronIpc({ service, policy });
    expect(await ipcMain.invoke(channelFor('models.list'), appFrame(), {})).toEqual({
      ok: false,
      error: { kind: 'engine_crashed', message: 'the inference process stopped' },
    });
    expect(await ipcMain.invoke(channelFor('models.status'), appFrame(), {})).toEqual({ ok: false, error: { kind: 'internal', message: 'boom' } });
  });

  it('accepts the dev server origin only under the dev policy', async () => {
    const { service, handle } = recordingService();
    registerElectronIpc({ service, policy: createOriginPolicy({ isPackaged: false, devServerUrl: 'http://localhost:5173' }) });
    const reply = await ipcMain.invoke(channelFor('app.info'), fakeFrame('http://localhost:5173/'), {});
    expect(reply).toMatchObject({ ok: true });
    expect(handle).toHaveBeenCalledTimes(1);
  });

  it('forwards service events to live app windows only', () => {
    const { service, emit } = recordingService();
    const live = new BrowserWindow().webContents;
    live.url = 'app://inkwell/index.html';
    const destroyed = new BrowserWindow().webContents;
    destroyed.url = 'app://inkwell/index.html';
    destroyed.destroyed = true;
    const foreign = new BrowserWindow().webContents;
    foreign.url = 'https://example.com/';
    const closedWindow = new BrowserWindow();
    closedWindow.webContents.url = 'app://inkwell/index.html';
    closedWindow.destroyed = true;
    registerElectronIpc({ service, policy });
    emit(statusEvent);
    expect(live.send).toHaveBeenCalledWith(EVENT_CHANNEL, statusEvent);
    expect(destroyed.send).not.toHaveBeenCalled();
    expect(foreign.send).not.toHaveBeenCalled();
    expect(closedWindow.webContents.send).not.toHaveBeenCalled();
  });

  it('keeps delivering to other windows when one send throws', () => {
    const { service, emit } = recordingService();
    const broken = new FakeWebContents('app://inkwell/index.html');
    broken.send.mockImplementation(() => {
      throw new Error('Render frame was disposed');
    });
    const healthy = new FakeWebContents('app://inkwell/index.html');
    const log = vi.fn();
    registerElectronIpc({ service, policy, log, eventTargets: () => [broken, healthy] as unknown as WebContents[] });
    emit(statusEvent);
    expect(healthy.send).toHaveBeenCalledWith(EVENT_CHANNEL, statusEvent);
    expect(log).toHaveBeenCalledWith(expect.stringContaining('Render frame was disposed'));
  });

  it('removes its handlers and subscription when disposed', () => {
    const { service, listeners } = recordingService();
    const dispose = registerElectronIpc({ service, policy });
    expect(listeners.size).toBe(1);
    dispose();
    expect(ipcMain.handlers.size).toBe(0);
    expect(listeners.size).toBe(0);
  });
});

describe('assertTrustedSender', () => {
  it('throws a typed unauthorized error', () => {
    expect(() => assertTrustedSender({ senderFrame: fakeFrame('https://evil.example/') } as never, policy)).toThrowError(
      expect.objectContaining({ kind: 'unauthorized' }),
    );
    expect(() => assertTrustedSender({ senderFrame: appFrame() } as never, policy)).not.toThrow();
  });
});

describe('with the real API service', () => {
  function realService() {
    const inference = {
      state: { state: 'stopped' as const },
      onStateChange: () => () => undefined,
    };
    const deps = {
      history: {},
      inference,
      models: {},
      appInfo: { version: '1.2.3', dataDir: '/data', transport: 'electron', nativeFileDialogs: true },
      cudaInstalled: () => false,
    } as unknown as ApiServiceDeps;
    return createApiService(deps);
  }

  it('answers app.info and validates payloads through the contract', async () => {
    registerElectronIpc({ service: realService(), policy });
    expect(await ipcMain.invoke(channelFor('app.info'), appFrame(), {})).toEqual({
      ok: true,
      result: { version: '1.2.3', dataDir: '/data', transport: 'electron', nativeFileDialogs: true },
    });
    expect(await ipcMain.invoke(channelFor('app.info'), appFrame(), { unexpected: 1 })).toMatchObject({
      ok: false,
      error: { kind: 'invalid_request' },
    });
    const hostile = await ipcMain.invoke(channelFor('generate.start'), appFrame(), {
      modelId: 'gpt2',
      prompt: 'x'.repeat(10_000_001),
      params: { maxNewTokens: -5 },
    });
    expect(hostile).toMatchObject({ ok: false, error: { kind: 'invalid_request' } });
  });
});
