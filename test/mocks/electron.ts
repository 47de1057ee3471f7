/**
 * The one Electron mock (Electron cannot be launched here). Every test that
 * needs Electron does
 *
 *   vi.mock('electron', () => import('../mocks/electron'));
 *
 * (path relative to the test) and drives the fakes below; `resetElectronMock()`
 * in a beforeEach gives each test fresh state. The fakes record what the code
 * under test registered (handlers, listeners, options) so tests can call them.
 */
import { EventEmitter } from 'node:events';
import { vi } from 'vitest';

// ---------------------------------------------------------------- web contents, frames, sessions

/** A WebFrameMain stand-in: the fields the IPC sender check reads. */
export interface FakeFrame {
  url: string;
  parent: FakeFrame | null;
}

/** A frame at `url`; pass `parent` to make it a subframe. */
export function fakeFrame(url: string, parent: FakeFrame | null = null): FakeFrame {
  return { url, parent };
}

type WindowOpenHandler = (details: { url: string }) => { action: 'allow' | 'deny' };

/** A navigation-style event as Electron 45 passes it (url on the event, preventDefault). */
export interface FakeNavigationEvent {
  url: string;
  defaultPrevented: boolean;
  preventDefault(): void;
}

/** Builds an event for 'will-navigate' & co. */
export function fakeNavigationEvent(url: string): FakeNavigationEvent {
  return {
    url,
    defaultPrevented: false,
    preventDefault() {
      this.defaultPrevented = true;
    },
  };
}

/** WebContents: an EventEmitter with the methods the app calls. */
export class FakeWebContents extends EventEmitter {
  url: string;
  destroyed = false;
  windowOpenHandler: WindowOpenHandler | null = null;
  readonly send = vi.fn<(channel: string, ...args: unknown[]) => void>();
  constructor(url = '') {
    super();
    this.url = url;
  }
  setWindowOpenHandler(handler: WindowOpenHandler): void {
    this.windowOpenHandler = handler;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  getURL(): string {
    return this.url;
  }
}

type PermissionRequestHandler = (contents: unknown, permission: string, callback: (granted: boolean) => void, details: unknown) => void;
type PermissionCheckHandler = (contents: unknown, permission: string, origin: string, details: unknown) => boolean;
type HeadersReceivedListener = (
  details: { url: string; responseHeaders?: Record<string, string[]> },
  callback: (response: { responseHeaders?: Record<string, string[]>; cancel?: boolean }) => void,
) => void;

/** Session: records the permission handlers and the webRequest header listener. */
export class FakeSession {
  permissionRequestHandler: PermissionRequestHandler | null = null;
  permissionCheckHandler: PermissionCheckHandler | null = null;
  devicePermissionHandler: ((details: unknown) => boolean) | null = null;
  headersReceived: HeadersReceivedListener | null = null;
  readonly webRequest = {
    onHeadersReceived: (listener: HeadersReceivedListener) => {
      this.headersReceived = listener;
    },
  };
  setPermissionRequestHandler(handler: PermissionRequestHandler): void {
    this.permissionRequestHandler = handler;
  }
  setPermissionCheckHandler(handler: PermissionCheckHandler): void {
    this.permissionCheckHandler = handler;
  }
  setDevicePermissionHandler(handler: (details: unknown) => boolean): void {
    this.devicePermissionHandler = handler;
  }
}

// ---------------------------------------------------------------- main-process modules

/** BrowserWindow: keeps its constructor options; `getAllWindows` lists the live ones. */
export class BrowserWindow extends EventEmitter {
  static windows: BrowserWindow[] = [];
  static getAllWindows(): BrowserWindow[] {
    return BrowserWindow.windows.filter((w) => !w.destroyed);
  }
  readonly options: Record<string, unknown>;
  readonly webContents: FakeWebContents;
  destroyed = false;
  readonly show = vi.fn();
  readonly maximize = vi.fn();
  readonly focus = vi.fn();
  readonly restore = vi.fn();
  readonly isMinimized = vi.fn(() => false);
  readonly isMaximized = vi.fn(() => false);
  readonly getNormalBounds = vi.fn(() => ({ x: 0, y: 0, width: 1200, height: 800 }));
  readonly loadURL = vi.fn(async (url: string) => {
    this.webContents.url = url;
  });
  constructor(options: Record<string, unknown> = {}) {
    super();
    this.options = options;
    this.webContents = new FakeWebContents();
    BrowserWindow.windows.push(this);
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
}

/** ipcMain: `handle` stores listeners; `invoke` calls one as Electron would. */
class FakeIpcMain {
  readonly handlers = new Map<string, (event: unknown, ...args: unknown[]) => unknown>();
  readonly handle = vi.fn((channel: string, listener: (event: unknown, ...args: unknown[]) => unknown) => {
    if (this.handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    this.handlers.set(channel, listener);
  });
  readonly removeHandler = vi.fn((channel: string) => {
    this.handlers.delete(channel);
  });
  /** Calls the handler for `channel` with an event whose sender frame is `frame`. */
  async invoke(channel: string, frame: FakeFrame | null, ...args: unknown[]): Promise<unknown> {
    const listener = this.handlers.get(channel);
    if (!listener) throw new Error(`No handler registered for '${channel}'`);
    return listener({ senderFrame: frame }, ...args);
  }
}
export const ipcMain = new FakeIpcMain();

export const shell = { openExternal: vi.fn(async (_url: string) => undefined), showItemInFolder: vi.fn((_path: string) => undefined) };

export const protocol = {
  registerSchemesAsPrivileged: vi.fn(),
  handle: vi.fn(),
};

export const session = { defaultSession: new FakeSession() };

/** A utilityProcess child: emit 'message' / 'exit' on it to play the process's part. */
export class FakeUtilityProcess extends EventEmitter {
  pid: number | undefined = 4242;
  readonly postMessage = vi.fn<(message: unknown) => void>();
  readonly kill = vi.fn(() => true);
}

export const utilityProcess = {
  fork: vi.fn((_modulePath: string, _args?: string[], _options?: Record<string, unknown>) => new FakeUtilityProcess()),
};

export const dialog = {
  showOpenDialog: vi.fn(async (..._args: unknown[]) => ({ canceled: true, filePaths: [] as string[] })),
  showSaveDialog: vi.fn(async (..._args: unknown[]) => ({ canceled: true, filePath: '' })),
  showMessageBox: vi.fn(async (..._args: unknown[]) => ({ response: 0, checkboxChecked: false })),
  showErrorBox: vi.fn(),
};

export const nativeTheme = { shouldUseDarkColors: false };

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** `app`: an EventEmitter; `whenReady` resolves once `becomeReady()` is called. */
class FakeApp extends EventEmitter {
  isPackaged = false;
  readonly paths = new Map<string, string>();
  #ready = deferred();
  readonly setName = vi.fn();
  readonly setPath = vi.fn((name: string, path: string) => {
    this.paths.set(name, path);
  });
  readonly getPath = vi.fn((name: string) => this.paths.get(name) ?? `/default/${name}`);
  readonly getAppPath = vi.fn(() => '/app');
  readonly getVersion = vi.fn(() => '0.0.0-test');
  readonly requestSingleInstanceLock = vi.fn(() => true);
  readonly quit = vi.fn();
  readonly exit = vi.fn();
  readonly whenReady = vi.fn(() => this.#ready.promise);
  /** Plays Electron's `ready`. */
  becomeReady(): void {
    this.#ready.resolve();
  }
  /** A fresh, not-yet-ready app with no listeners. */
  reset(): void {
    this.removeAllListeners();
    this.paths.clear();
    this.isPackaged = false;
    this.#ready = deferred();
  }
}
export const app = new FakeApp();

export const Menu = {
  buildFromTemplate: vi.fn((template: unknown[]) => ({ template })),
  setApplicationMenu: vi.fn(),
};

export const screen = {
  getAllDisplays: vi.fn(() => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }]),
};

// ---------------------------------------------------------------- preload modules

/** contextBridge: remembers what was exposed under which key. */
export const contextBridge = {
  exposed: new Map<string, unknown>(),
  exposeInMainWorld: vi.fn((key: string, api: unknown) => {
    contextBridge.exposed.set(key, api);
  }),
};

/** ipcRenderer: `invoke` is a spy; `emit(channel, payload)` plays an event from main. */
class FakeIpcRenderer extends EventEmitter {
  readonly invoke = vi.fn(async (_channel: string, ..._args: unknown[]): Promise<unknown> => ({ ok: true, result: null }));
  /** Delivers `payload` on `channel` as main's `webContents.send` would (with an IpcRendererEvent first). */
  deliver(channel: string, payload: unknown): void {
    this.emit(channel, { sender: this, senderId: 0 }, payload);
  }
}
export const ipcRenderer = new FakeIpcRenderer();

// ---------------------------------------------------------------- reset

/** Fresh state for the next test. */
export function resetElectronMock(): void {
  vi.clearAllMocks();
  BrowserWindow.windows = [];
  ipcMain.handlers.clear();
  session.defaultSession = new FakeSession();
  contextBridge.exposed.clear();
  ipcRenderer.removeAllListeners();
  nativeTheme.shouldUseDarkColors = false;
  app.reset();
}
