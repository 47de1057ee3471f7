import { beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeSession, FakeWebContents, fakeNavigationEvent, resetElectronMock, shell } from '../mocks/electron';
import type { BrowserWindow } from '../mocks/electron';
import { createOriginPolicy } from '../../src/main/app/origins';
import { APP_CSP, createMainWindow, getMainWindowOptions, hardenSession, hardenWebContents, openExternalSafely } from '../../src/main/window';
import type { Session, WebContents } from 'electron';

vi.mock('electron', () => import('../mocks/electron'));

const policy = createOriginPolicy({ isPackaged: true });
const devPolicy = createOriginPolicy({ isPackaged: false, devServerUrl: 'http://localhost:5173' });

function hardened(p = policy): FakeWebContents {
  const contents = new FakeWebContents('app://inkwell/index.html');
  hardenWebContents(contents as unknown as WebContents, p);
  return contents;
}

function navigate(contents: FakeWebContents, event: string, url: string): boolean {
  const e = fakeNavigationEvent(url);
  contents.emit(event, e);
  return e.defaultPrevented;
}

beforeEach(() => resetElectronMock());

describe('getMainWindowOptions', () => {
  it('sets every security-relevant webPreference', () => {
    const options = getMainWindowOptions({ preloadPath: '/app/out/preload/index.cjs', dark: false });
    expect(options.webPreferences).toEqual({
      preload: '/app/out/preload/index.cjs',
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
    });
    expect(options.webPreferences).not.toHaveProperty('enableBlinkFeatures');
  });

  it('has a minimum size, starts hidden and paints the theme background', () => {
    const light = getMainWindowOptions({ preloadPath: '/p.cjs', dark: false });
    const dark = getMainWindowOptions({ preloadPath: '/p.cjs', dark: true });
    expect(light.minWidth).toBeGreaterThan(0);
    expect(light.minHeight).toBeGreaterThan(0);
    expect(light.show).toBe(false);
    expect(light.backgroundColor).toBe('#ffffff');
    expect(dark.backgroundColor).toBe('#1e1e1e');
  });

  it('uses remembered bounds when given', () => {
    const options = getMainWindowOptions({ preloadPath: '/p.cjs', dark: false, bounds: { x: 10, y: 20, width: 900, height: 700 } });
    expect(options).toMatchObject({ x: 10, y: 20, width: 900, height: 700 });
  });
});

describe('createMainWindow', () => {
  it('builds the window from getMainWindowOptions and shows it when ready', () => {
    const window = createMainWindow({ preloadPath: '/p.cjs', dark: false }) as unknown as BrowserWindow;
    expect(window.options).toEqual(getMainWindowOptions({ preloadPath: '/p.cjs', dark: false }));
    expect(window.show).not.toHaveBeenCalled();
    window.emit('ready-to-show');
    expect(window.show).toHaveBeenCalledTimes(1);
  });
});

describe('hardenWebContents', () => {
  it('blocks navigation to foreign origins and allows the app origin', () => {
    const contents = hardened();
    expect(navigate(contents, 'will-navigate', 'https://example.com/')).toBe(true);
    expect(navigate(contents, 'will-navigate', 'app://evil/index.html')).toBe(true);
    expect(navigate(contents, 'will-navigate', 'file:///etc/passwd')).toBe(true);
    expect(navigate(contents, 'will-navigate', 'http://localhost:5173/')).toBe(true);
    expect(navigate(contents, 'will-navigate', 'not a url')).toBe(true);
    expect(navigate(contents, 'will-navigate', 'app://inkwell/index.html')).toBe(false);
    expect(navigate(contents, 'will-navigate', 'app://inkwell/other.html#x')).toBe(false);
  });

  it('applies the same rule to frame navigations and redirects', () => {
    const contents = hardened();
    for (const event of ['will-frame-navigate', 'will-redirect']) {
      expect(navigate(contents, event, 'https://example.com/')).toBe(true);
      expect(navigate(contents, event, 'app://inkwell/index.html')).toBe(false);
    }
  });

  it('trusts the dev server origin only in the dev policy', () => {
    const contents = hardened(devPolicy);
    expect(navigate(contents, 'will-navigate', 'http://localhost:5173/index.html')).toBe(false);
    expect(navigate(contents, 'will-navigate', 'http://localhost:5174/')).toBe(true);
    expect(createOriginPolicy({ isPackaged: true, devServerUrl: 'http://localhost:5173' }).isTrusted('http://localhost:5173/')).toBe(false);
  });

  it('denies window.open and passes only http(s) URLs to the browser', () => {
    const contents = hardened();
    const handler = contents.windowOpenHandler;
    expect(handler).not.toBeNull();
    for (const url of ['https://example.com/a', 'http://example.com/b', 'file:///etc/passwd', 'smb://host/share', 'javascript:alert(1)', 'app://inkwell/x', 'garbage']) {
      expect(handler?.({ url })).toEqual({ action: 'deny' });
    }
    expect(shell.openExternal.mock.calls.map((call) => call[0])).toEqual(['https://example.com/a', 'http://example.com/b']);
  });

  it('prevents <webview> attachment', () => {
    const contents = hardened();
    const event = fakeNavigationEvent('');
    contents.emit('will-attach-webview', event, {}, {});
    expect(event.defaultPrevented).toBe(true);
  });
});

describe('openExternalSafely', () => {
  it('opens http and https only', () => {
    expect(openExternalSafely('https://example.com/')).toBe(true);
    expect(openExternalSafely('HTTP://EXAMPLE.com/')).toBe(true);
    expect(openExternalSafely('file:///C:/Windows/system32/calc.exe')).toBe(false);
    expect(openExternalSafely('ms-settings:')).toBe(false);
    expect(openExternalSafely('')).toBe(false);
    expect(shell.openExternal.mock.calls.map((call) => call[0])).toEqual(['https://example.com/', 'http://example.com/']);
  });
});

describe('hardenSession', () => {
  function hardenedSession(p = policy): FakeSession {
    const fake = new FakeSession();
    hardenSession(fake as unknown as Session, p);
    return fake;
  }

  it('denies every permission request and check', () => {
    const fake = hardenedSession();
    for (const permission of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal', 'fullscreen', 'unknown']) {
      const callback = vi.fn();
      fake.permissionRequestHandler?.({}, permission, callback, { requestingUrl: 'app://inkwell/index.html' });
      expect(callback).toHaveBeenCalledWith(false);
      expect(fake.permissionCheckHandler?.({}, permission, 'app://inkwell', {})).toBe(false);
    }
    expect(fake.devicePermissionHandler?.({})).toBe(false);
  });

  it('adds the CSP header to trusted responses, replacing any other, and leaves foreign ones alone', () => {
    const fake = hardenedSession(devPolicy);
    const onTrusted = vi.fn();
    fake.headersReceived?.({ url: 'http://localhost:5173/', responseHeaders: { 'content-security-policy': ['default-src *'], 'X-Other': ['1'] } }, onTrusted);
    expect(onTrusted).toHaveBeenCalledWith({ responseHeaders: { 'Content-Security-Policy': [APP_CSP], 'X-Other': ['1'] } });
    const onForeign = vi.fn();
    fake.headersReceived?.({ url: 'https://example.com/', responseHeaders: {} }, onForeign);
    expect(onForeign).toHaveBeenCalledWith({});
  });
});

describe('APP_CSP', () => {
  it('allows scripts from the app only and forbids objects, frames, base and forms', () => {
    const directives = new Map(APP_CSP.split(';').map((d) => {
      const [name, ...values] = d.trim().split(/\s+/);
      return [name, values] as const;
    }));
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('object-src')).toEqual(["'none'"]);
    expect(directives.get('base-uri')).toEqual(["'none'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(APP_CSP).not.toMatch(/unsafe-eval/);
  });
});
