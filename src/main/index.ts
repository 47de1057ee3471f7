/**
 * The Electron entry: one instance, data in resolveHome() (which is also
 * Electron's userData), history in <home>/inkwell.db opened with the
 * Electron-ABI SQLite addon, inference in a utilityProcess, the API over
 * checked IPC, and one hardened window serving the renderer from app://.
 */
import { join } from 'node:path';
import { app, BrowserWindow, dialog, Menu, nativeTheme, screen, session } from 'electron';
import { errorMessage } from './common/errors';
import { createRemoteArea } from './api/remote-handlers';
import { createRemoteKeyStore } from './api/remote-keys';
import { createApiService } from './api/service';
import type { ApiService } from './api/service';
import { registerAppProtocol, registerAppScheme } from './app/app-protocol';
import { createBatchFileDialogs, createFileDialogs } from './app/file-dialogs';
import { createSafeStorageVault } from './app/key-vault';
import { buildMenuTemplate } from './app/menu';
import { explainNativeLoadError, findElectronSqliteAddon } from './app/native-binding';
import { createOriginPolicy } from './app/origins';
import type { OriginPolicy } from './app/origins';
import { loadWindowState, saveWindowState, visibleBounds } from './app/window-state';
import { ModelStore, resolveHome } from './engine';
import type { Settings } from '../shared/api';
import { AppDatabase } from './history';
import { historyFile } from './history/location';
import { InferenceClient } from './inference/client';
import { createElectronSpawner } from './inference/electron-spawner';
import { registerElectronIpc } from './transports/electron-ipc';
import { APP_CSP, createMainWindow, hardenSession, hardenWebContents } from './window';

const APP_NAME = 'Inkwell';
/** Longest a quit waits for running generations to be saved and the inference process to end. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

const bundleDir = import.meta.dirname;
const paths = {
  preload: join(bundleDir, '../preload/index.cjs'),
  renderer: join(bundleDir, '../renderer'),
  inference: join(bundleDir, 'inference-process.js'),
};

function log(line: string): void {
  process.stderr.write(`[inkwell] ${line}\n`);
}


// Before `ready`: the name, the data folder and the privileged scheme must be fixed first.
app.setName(APP_NAME);
const home = resolveHome();
app.setPath('userData', home);
// Chromium's caches and storage go in a subfolder, apart from Inkwell's own files.
app.setPath('sessionData', join(home, 'electron'));
registerAppScheme();

interface Running {
  service: ApiService;
  inference: InferenceClient;
  history: AppDatabase;
  disposeIpc: () => void;
}

let running: Running | null = null;
let mainWindow: BrowserWindow | null = null;

/** Whether the window should open dark: the user's theme setting, else the system's. */
function prefersDark(history: AppDatabase): boolean {
  let theme: Settings['theme'] = 'system';
  try {
    theme = history.settings.get().theme;
  } catch (error) {
    log(`could not read the theme setting: ${errorMessage(error)}`);
  }
  return theme === 'dark' || (theme === 'system' && nativeTheme.shouldUseDarkColors);
}

function openWindow(policy: OriginPolicy, dark: boolean): BrowserWindow {
  const stateFile = join(home, 'window-state.json');
  const saved = visibleBounds(loadWindowState(stateFile), screen.getAllDisplays().map((d) => d.workArea));
  const window = createMainWindow(
    {
      preloadPath: paths.preload,
      dark,
      ...(saved ? { bounds: saved.bounds } : {}),
      ...(process.platform === 'linux' ? { icon: join(app.getAppPath(), 'resources', 'icon.png') } : {}),
    },
  );
  if (saved?.maximized) window.maximize();
  window.on('close', () => {
    void saveWindowState(stateFile, { bounds: window.getNormalBounds(), maximized: window.isMaximized() }, log);
  });
  window.on('closed', () => {
    if (mainWindow === window) mainWindow = null;
  });
  void window.loadURL(policy.entryUrl).catch((error: unknown) => log(`could not load ${policy.entryUrl}: ${errorMessage(error)}`));
  return window;
}

function openHistory(): { database: AppDatabase; notice?: string } {
  const nativeBinding = findElectronSqliteAddon({ isPackaged: app.isPackaged, appPath: app.getAppPath(), resourcesPath: process.resourcesPath });
  if (!nativeBinding) log('no Electron-ABI better-sqlite3 found; using the default build (run scripts/ensure-electron-native.mjs if it fails to load)');
  try {
    return AppDatabase.open(historyFile(home), nativeBinding ? { nativeBinding } : {});
  } catch (error) {
    const explained = explainNativeLoadError(error);
    throw new Error(explained ?? `could not open the history database in ${home}: ${errorMessage(error)}`, { cause: error });
  }
}

async function start(): Promise<void> {
  await app.whenReady();
  const policy = createOriginPolicy({ devServerUrl: process.env.ELECTRON_RENDERER_URL, isPackaged: app.isPackaged });
  hardenSession(session.defaultSession, policy);
  // Every WebContents, including any created later, gets the same navigation and window rules.
  app.on('web-contents-created', (_event, contents) => hardenWebContents(contents, policy));
  registerAppProtocol(paths.renderer, APP_CSP);
  Menu.setApplicationMenu(Menu.buildFromTemplate(buildMenuTemplate(process.platform, APP_NAME, !app.isPackaged)));

  const { database: history, notice } = openHistory();
  const inference = new InferenceClient({ spawn: createElectronSpawner({ entry: paths.inference, home }), log });
  const files = createFileDialogs(() => mainWindow);
  const modelStore = new ModelStore(home);
  const service = createApiService({
    history,
    inference,
    models: modelStore,
    modelStore,
    // The renderer shows start-up notices (e.g. a damaged database set aside) in its notices area.
    appInfo: { version: app.getVersion(), dataDir: home, transport: 'electron', nativeFileDialogs: true, notices: notice ? [notice] : [] },
    openFile: files.openFile,
    saveFile: files.saveFile,
    pickFolder: files.pickFolder,
    // Remote engines' keys: encrypted by the OS keychain (safeStorage), only ciphertext in the database.
    remote: createRemoteArea({ settings: history.settings, keys: createRemoteKeyStore({ env: process.env, vault: createSafeStorageVault(), secrets: history.secrets, log }) }),
    batchFiles: createBatchFileDialogs(() => mainWindow),
    log,
  });
  const disposeIpc = registerElectronIpc({ service, policy, log });
  running = { service, inference, history, disposeIpc };

  if (notice) log(notice);
  mainWindow = openWindow(policy, prefersDark(history));

  app.on('second-instance', () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) mainWindow = openWindow(policy, prefersDark(history));
  });
}

/** Saves what running generations wrote, ends the inference process and closes the database; bounded in time. */
async function shutDown(): Promise<void> {
  const current = running;
  running = null;
  if (!current) return;
  const orderly = (async () => {
    await current.service.close();
    current.disposeIpc();
    await current.inference.close();
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      log(`shutdown took longer than ${SHUTDOWN_TIMEOUT_MS / 1000} s; quitting anyway`);
      resolve();
    }, SHUTDOWN_TIMEOUT_MS);
  });
  try {
    await Promise.race([orderly, timeout]);
  } catch (error) {
    log(`shutdown: ${errorMessage(error)}`);
  } finally {
    clearTimeout(timer);
    current.history.close();
  }
}

function fail(error: unknown): void {
  log(`could not start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  dialog.showErrorBox(`${APP_NAME} could not start`, errorMessage(error));
  app.exit(1);
}

if (!app.requestSingleInstanceLock()) {
  // Another Inkwell owns this data folder; it has been asked to show its window.
  app.quit();
} else {
  let quitting = false;
  app.on('before-quit', (event) => {
    if (quitting) return;
    quitting = true;
    event.preventDefault();
    void shutDown().finally(() => app.quit());
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  process.on('unhandledRejection', (reason) => log(`unhandled rejection: ${errorMessage(reason)}`));
  start().catch(fail);
}
