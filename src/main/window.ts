/**
 * Every security-relevant window setting lives here, in functions a test can
 * call and assert (the Electron Fiddle pattern: getMainWindowOptions +
 * windows.spec.ts). Checklist: https://www.electronjs.org/docs/latest/tutorial/security
 */
import { BrowserWindow, shell } from 'electron';
import type { BrowserWindowConstructorOptions, Rectangle, Session, WebContents } from 'electron';
import type { OriginPolicy } from './app/origins';

/**
 * Content-Security-Policy of the app's own pages (checklist item 7). The
 * renderer's index.html carries a <meta> policy too; the browser enforces both.
 * `style-src 'unsafe-inline'` is needed because CodeMirror and Svelte insert
 * <style> elements at run time; scripts stay 'self' only.
 */
export const APP_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Smallest window the writing UI is laid out for. */
export const MIN_WINDOW_SIZE = { width: 720, height: 480 } as const;

/** What the caller decides; everything security-related is fixed below. */
export interface MainWindowInput {
  /** Absolute path of the bundled sandboxed preload (out/preload/index.cjs). */
  preloadPath: string;
  /** Paint the window in the theme's colour before the renderer draws (no white flash). */
  dark: boolean;
  /** Remembered bounds, when there are any. */
  bounds?: Partial<Rectangle>;
  /** Window icon (Linux; macOS and Windows take it from the bundle). */
  icon?: string;
}

/** The BrowserWindow options: size, background, and every webPreference the checklist names. */
export function getMainWindowOptions(input: MainWindowInput): BrowserWindowConstructorOptions {
  return {
    width: input.bounds?.width ?? 1200,
    height: input.bounds?.height ?? 800,
    ...(input.bounds?.x !== undefined && input.bounds.y !== undefined ? { x: input.bounds.x, y: input.bounds.y } : {}),
    minWidth: MIN_WINDOW_SIZE.width,
    minHeight: MIN_WINDOW_SIZE.height,
    title: 'Inkwell',
    show: false,
    backgroundColor: input.dark ? '#1e1e1e' : '#ffffff',
    ...(input.icon ? { icon: input.icon } : {}),
    webPreferences: {
      preload: input.preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: true,
    },
  };
}

/**
 * Opens a link in the user's browser, but only for http(s) URLs (checklist
 * item 15: never hand untrusted input to `shell.openExternal`, which would
 * happily launch `file:`, `smb:` or custom-scheme handlers). Returns whether
 * it opened.
 */
export function openExternalSafely(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return false;
  void shell.openExternal(parsed.href).catch(() => undefined);
  return true;
}

/**
 * Locks one WebContents down: no new windows (http(s) links go to the
 * browser instead), no navigation or redirect away from the app's origins,
 * no <webview> (checklist items 12–14).
 */
export function hardenWebContents(contents: WebContents, policy: OriginPolicy): void {
  contents.setWindowOpenHandler(({ url }) => {
    openExternalSafely(url);
    return { action: 'deny' };
  });
  contents.on('will-navigate', (event) => {
    if (!policy.isTrusted(event.url)) event.preventDefault();
  });
  contents.on('will-frame-navigate', (event) => {
    if (!policy.isTrusted(event.url)) event.preventDefault();
  });
  contents.on('will-redirect', (event) => {
    if (!policy.isTrusted(event.url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
  });
}

/**
 * Session-wide rules: every permission request and check is denied (Electron
 * grants them all by default, checklist item 5), and the CSP header is added
 * to the app's own pages when they come over HTTP (the dev server); the
 * app:// protocol handler sets it itself.
 */
export function hardenSession(session: Session, policy: OriginPolicy, csp: string = APP_CSP): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => {
    callback(false);
  });
  session.setPermissionCheckHandler(() => false);
  session.setDevicePermissionHandler(() => false);
  session.webRequest.onHeadersReceived((details, callback) => {
    if (!policy.isTrusted(details.url)) {
      callback({});
      return;
    }
    const responseHeaders = { ...details.responseHeaders };
    for (const name of Object.keys(responseHeaders)) {
      if (name.toLowerCase() === 'content-security-policy') delete responseHeaders[name];
    }
    responseHeaders['Content-Security-Policy'] = [csp];
    callback({ responseHeaders });
  });
}

/**
 * Creates the main window with the options above, shown once painted. Its
 * WebContents is hardened by the app-wide 'web-contents-created' hook
 * (src/main/index.ts), which also covers any WebContents created later.
 */
export function createMainWindow(input: MainWindowInput): BrowserWindow {
  const window = new BrowserWindow(getMainWindowOptions(input));
  window.once('ready-to-show', () => window.show());
  return window;
}
