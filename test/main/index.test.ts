import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { methodNames } from '../../src/shared/api';
import type * as ElectronMock from '../mocks/electron';

// The entry runs on import, so each test re-imports it after vi.resetModules().
// The mocked 'electron' survives the reset; tests reach it as 'electron' so they
// hold the very instance the entry uses.
vi.mock('electron', () => import('../mocks/electron'));

const fakes = vi.hoisted(() => ({
  openHistory: (_file: string, _options: unknown): { database: { close(): void; settings?: { get(): unknown } }; notice?: string } => ({ database: { close: () => undefined } }),
  deps: null as null | Record<string, unknown>,
  inferenceOptions: null as null | { spawn: unknown },
  service: null as null | { close: () => Promise<void>; handle: () => Promise<unknown>; subscribe: () => () => void },
  inferenceClose: null as null | (() => Promise<void>),
}));

vi.mock('../../src/main/history', () => ({
  AppDatabase: { open: (file: string, options: unknown) => fakes.openHistory(file, options) },
}));
vi.mock('../../src/main/engine', async () => ({
  resolveHome: (await import('../../src/main/engine/paths')).resolveHome,
  // The remote-engine client is plain HTTP (no onnxruntime): the real one.
  RemoteEngines: (await import('../../src/main/engine/remote/remote-engines')).RemoteEngines,
  RemoteCompletionsClient: (await import('../../src/main/engine/remote/client')).RemoteCompletionsClient,
  RemoteEngineError: (await import('../../src/main/engine/remote/errors')).RemoteEngineError,
  ModelStore: class {
    constructor(readonly home: string) {}
  },
}));
vi.mock('../../src/main/inference/client', () => ({
  InferenceClient: class {
    readonly close = vi.fn(async () => undefined);
    constructor(options: { spawn: unknown }) {
      fakes.inferenceOptions = options;
      fakes.inferenceClose = this.close;
    }
  },
}));
vi.mock('../../src/main/api/service', () => ({
  createApiService: (deps: Record<string, unknown>) => {
    fakes.deps = deps;
    fakes.service = { close: vi.fn(async () => undefined), handle: vi.fn(async () => null), subscribe: () => () => undefined };
    return fakes.service;
  },
}));

let home: string;
const savedEnv = { INKWELL_HOME: process.env.INKWELL_HOME, ELECTRON_RENDERER_URL: process.env.ELECTRON_RENDERER_URL };

beforeEach(() => {
  vi.resetModules();
  home = mkdtempSync(join(tmpdir(), 'inkwell-entry-'));
  process.env.INKWELL_HOME = home;
  delete process.env.ELECTRON_RENDERER_URL;
  fakes.openHistory = () => ({ database: { close: vi.fn(), settings: { get: () => ({ theme: 'system' }) } } });
  fakes.deps = null;
});

afterEach(() => {
  rmSync(home, { recursive: true, force: true });
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  process.removeAllListeners('unhandledRejection');
});

async function loadEntry(options: { lock?: boolean } = {}) {
  const electron = (await import('electron')) as unknown as typeof ElectronMock;
  electron.resetElectronMock();
  electron.app.requestSingleInstanceLock.mockReturnValue(options.lock ?? true);
  await import('../../src/main/index');
  return electron;
}

async function startApp() {
  const electron = await loadEntry();
  electron.app.becomeReady();
  await vi.waitFor(() => expect(electron.BrowserWindow.windows.length).toBe(1));
  return electron;
}

describe('before ready', () => {
  it('names the app, puts its data in INKWELL_HOME and registers app: before taking the lock', async () => {
    const { app, protocol } = await loadEntry();
    expect(app.setName).toHaveBeenCalledWith('Inkwell');
    expect(app.paths.get('userData')).toBe(home);
    expect(app.paths.get('sessionData')).toBe(join(home, 'electron'));
    expect(protocol.registerSchemesAsPrivileged).toHaveBeenCalledTimes(1);
    // The single-instance lock lives in userData, so the path must be set first.
    const setPathOrder = Math.max(...app.setPath.mock.invocationCallOrder);
    expect(app.requestSingleInstanceLock.mock.invocationCallOrder[0]).toBeGreaterThan(setPathOrder);
  });

  it('quits without starting anything when another instance holds the lock', async () => {
    const opened = vi.fn(fakes.openHistory);
    fakes.openHistory = opened;
    const { app, BrowserWindow } = await loadEntry({ lock: false });
    expect(app.quit).toHaveBeenCalled();
    app.becomeReady();
    await new Promise((resolve) => setImmediate(resolve));
    expect(opened).not.toHaveBeenCalled();
    expect(BrowserWindow.windows).toHaveLength(0);
  });
});

describe('after ready', () => {
  it('hardens the session, serves app://, and opens one window on app://inkwell with the bundled preload', async () => {
    const { session, protocol, Menu, BrowserWindow } = await startApp();
    expect(session.defaultSession.permissionRequestHandler).not.toBeNull();
    expect(session.defaultSession.permissionCheckHandler).not.toBeNull();
    expect(protocol.handle).toHaveBeenCalledWith('app', expect.any(Function));
    expect(Menu.setApplicationMenu).toHaveBeenCalledTimes(1);
    const window = BrowserWindow.windows[0]!;
    const prefs = window.options.webPreferences as Record<string, unknown>;
    expect(prefs).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false });
    expect(String(prefs.preload)).toMatch(/preload[/\\]index\.cjs$/);
    expect(window.loadURL).toHaveBeenCalledWith('app://inkwell/index.html');
  });

  it('opens the history in <home>/inkwell.db and wires the service with native dialogs and IPC', async () => {
    const opened = vi.fn(fakes.openHistory);
    fakes.openHistory = opened;
    const { ipcMain } = await startApp();
    expect(opened).toHaveBeenCalledWith(join(home, 'inkwell.db'), {});
    expect(fakes.deps?.appInfo).toEqual({ version: '0.0.0-test', dataDir: home, transport: 'electron', nativeFileDialogs: true, notices: [] });
    expect(typeof fakes.deps?.openFile).toBe('function');
    expect(typeof fakes.deps?.saveFile).toBe('function');
    expect(typeof fakes.inferenceOptions?.spawn).toBe('function');
    expect([...ipcMain.handlers.keys()].sort()).toEqual(methodNames.map((m) => `inkwell:${m}`).sort());
  });

  it('passes a damaged-database notice on to the renderer', async () => {
    fakes.openHistory = () => ({ database: { close: vi.fn() }, notice: 'inkwell.db was damaged and set aside as inkwell.db.corrupt-1' });
    await startApp();
    expect(fakes.deps?.appInfo).toMatchObject({ notices: ['inkwell.db was damaged and set aside as inkwell.db.corrupt-1'] });
  });

  it('paints the window in the theme the user chose, else the system one', async () => {
    fakes.openHistory = () => ({ database: { close: vi.fn(), settings: { get: () => ({ theme: 'dark' }) } } });
    const { BrowserWindow } = await startApp();
    expect(BrowserWindow.windows[0]?.options.backgroundColor).toBe('#1e1e1e');
  });

  it('hardens every WebContents created later', async () => {
    const { app, FakeWebContents } = await startApp();
    const contents = new FakeWebContents('app://inkwell/index.html');
    app.emit('web-contents-created', {}, contents);
    expect(contents.windowOpenHandler?.({ url: 'https://example.com/' })).toEqual({ action: 'deny' });
    expect(contents.listenerCount('will-navigate')).toBe(1);
  });

  it('explains a better-sqlite3 ABI mismatch and exits instead of crash-looping', async () => {
    fakes.openHistory = () => {
      throw new Error('The module was compiled against a different Node.js version using NODE_MODULE_VERSION 115.');
    };
    const { app, dialog } = await loadEntry();
    app.becomeReady();
    await vi.waitFor(() => expect(app.exit).toHaveBeenCalledWith(1));
    expect(dialog.showErrorBox).toHaveBeenCalledWith('Inkwell could not start', expect.stringContaining('ensure-electron-native'));
  });
});

describe('quitting', () => {
  it('closes the service, the inference process and the database before quitting', async () => {
    const store = { close: vi.fn() };
    fakes.openHistory = () => ({ database: store });
    const { app } = await startApp();
    const event = { preventDefault: vi.fn() };
    app.emit('before-quit', event);
    expect(event.preventDefault).toHaveBeenCalled();
    await vi.waitFor(() => expect(app.quit).toHaveBeenCalled());
    expect(fakes.service?.close).toHaveBeenCalled();
    expect(fakes.inferenceClose).toHaveBeenCalled();
    expect(store.close).toHaveBeenCalled();
    const again = { preventDefault: vi.fn() };
    app.emit('before-quit', again);
    expect(again.preventDefault).not.toHaveBeenCalled();
  });
});
