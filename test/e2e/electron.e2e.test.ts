/**
 * Drives the real desktop app (out/main/index.js, built by `npm run build`)
 * with Playwright's `_electron` and checks the security settings from the
 * outside: webPreferences, what the page can reach, the bridge's surface,
 * CSP, window.open, navigation and permissions.
 *
 * The Electron binary is not always there (it cannot be downloaded in every
 * environment). Then this suite reports itself SKIPPED with the reason; it
 * never passes without having run.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { _electron } from 'playwright-core';
import type { ElectronApplication, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { methodNames } from '../../src/shared/api';

const root = resolve(import.meta.dirname, '../..');

/**
 * The Electron executable, found the way node_modules/electron/index.js finds
 * it, but without requiring that file: it starts a download when the binary
 * is missing.
 */
function findElectron(): { executable: string } | { reason: string } {
  const dir = join(root, 'node_modules', 'electron');
  const pathFile = join(dir, 'path.txt');
  if (!existsSync(pathFile)) {
    return { reason: 'the Electron binary is not installed (node_modules/electron/path.txt is missing; `node scripts/ensure-electron-native.mjs` fetches it where the network allows)' };
  }
  const relative = readFileSync(pathFile, 'utf8').trim();
  const base = process.env.ELECTRON_OVERRIDE_DIST_PATH ?? join(dir, 'dist');
  const executable = join(base, relative);
  if (!existsSync(executable)) return { reason: `the Electron binary ${executable} does not exist` };
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return { reason: 'no display to open a window on (set DISPLAY, e.g. run under xvfb-run)' };
  }
  return { executable };
}

const found = findElectron();
const executable = 'executable' in found ? found.executable : null;
const skipReason = 'reason' in found ? found.reason : '';
if (!executable) process.stderr.write(`\n[electron e2e] SKIPPED: ${skipReason}\n\n`);

describe.skipIf(!executable)(executable ? 'the Electron app' : `the Electron app (SKIPPED: ${skipReason})`, () => {
  let app: ElectronApplication;
  let page: Page;
  let home: string;

  beforeAll(async () => {
    if (!existsSync(join(root, 'out', 'main', 'index.js'))) throw new Error('out/main/index.js is missing: run `npm run build` first');
    if (!existsSync(join(root, '.electron-native', 'better_sqlite3.node'))) {
      throw new Error('.electron-native/better_sqlite3.node is missing: run `node scripts/ensure-electron-native.mjs` first');
    }
    home = mkdtempSync(join(tmpdir(), 'inkwell-electron-e2e-'));
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
    delete env.ELECTRON_RENDERER_URL;
    delete env.ELECTRON_RUN_AS_NODE;
    env.INKWELL_HOME = home;
    // The project folder as the app: Electron reads package.json "main" (out/main/index.js),
    // and app.getAppPath() is the folder holding .electron-native/.
    app = await _electron.launch({ executablePath: executable ?? '', args: [root], env, cwd: root });
    page = await app.firstWindow();
    await page.waitForLoadState('domcontentloaded');
  });

  afterAll(async () => {
    await app?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('loads the renderer from app://inkwell', () => {
    expect(page.url()).toMatch(/^app:\/\/inkwell\//);
  });

  it('hardens every window', async () => {
    const windows = await app.evaluate(({ BrowserWindow }) =>
      BrowserWindow.getAllWindows().map((w) => {
        // Present at run time (Electron's own specs use it) but not in electron.d.ts.
        const contents = w.webContents as unknown as { getLastWebPreferences(): Record<string, unknown> | null };
        const p = contents.getLastWebPreferences();
        return {
          contextIsolation: p?.contextIsolation,
          sandbox: p?.sandbox,
          nodeIntegration: p?.nodeIntegration,
          webSecurity: p?.webSecurity,
          allowRunningInsecureContent: p?.allowRunningInsecureContent,
          experimentalFeatures: p?.experimentalFeatures,
        };
      }),
    );
    expect(windows.length).toBeGreaterThan(0);
    for (const prefs of windows) {
      expect(prefs).toEqual({
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        experimentalFeatures: false,
      });
    }
  });

  // Page code is passed as strings: this file is type-checked without DOM types.
  it('gives the page no Node, no ipcRenderer, and exactly the bridge allowlist', async () => {
    const surface = await page.evaluate(`(() => {
      const bridge = window.inkwell;
      return {
        require: typeof window.require,
        process: typeof window.process,
        ipcRenderer: typeof window.ipcRenderer,
        electron: typeof window.electron,
        keys: bridge ? Object.keys(bridge).sort() : null,
        allFunctions: bridge ? Object.values(bridge).every((v) => typeof v === 'function') : false,
      };
    })()`);
    expect(surface).toEqual({
      require: 'undefined',
      process: 'undefined',
      ipcRenderer: 'undefined',
      electron: 'undefined',
      keys: [...methodNames, 'onEvent'].sort(),
      allFunctions: true,
    });
  });

  it('answers over IPC, with the data folder from INKWELL_HOME', async () => {
    expect(await page.evaluate(`window.inkwell['app.info']({})`)).toEqual({
      ok: true,
      result: expect.objectContaining({ transport: 'electron', dataDir: home, nativeFileDialogs: true }),
    });
    expect(await page.evaluate(`window.inkwell['history.get']({ id: 'not a number' })`)).toMatchObject({
      ok: false,
      error: { kind: 'invalid_request' },
    });
  });

  it('blocks inline scripts by CSP', async () => {
    const result = await page.evaluate(`new Promise((resolve) => {
      document.addEventListener('securitypolicyviolation', (event) => resolve({ directive: event.effectiveDirective, ran: 'pwned' in window }), { once: true });
      const script = document.createElement('script');
      script.textContent = 'window.pwned = true';
      document.head.append(script);
    })`);
    expect(result).toEqual({ directive: 'script-src-elem', ran: false });
  });

  it('opens no new windows', async () => {
    expect(await page.evaluate(`window.open('https://example.com/') === null`)).toBe(true);
    expect(await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().length)).toBe(1);
  });

  it('does not navigate away from the app', async () => {
    const before = page.url();
    // Listeners run in registration order: the app's own will-navigate handler has already run
    // when this one sees the event, so it can read the decision.
    await app.evaluate(({ BrowserWindow }) => {
      const seen: { url: string; prevented: boolean }[] = [];
      (globalThis as unknown as { navigations: typeof seen }).navigations = seen;
      BrowserWindow.getAllWindows()[0]?.webContents.on('will-navigate', (event) => {
        seen.push({ url: event.url, prevented: event.defaultPrevented });
      });
    });
    await page.evaluate(`window.location.href = 'https://example.com/'`);
    await expect
      .poll(() => app.evaluate(() => (globalThis as unknown as { navigations: unknown[] }).navigations))
      .toEqual([{ url: 'https://example.com/', prevented: true }]);
    expect(await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows()[0]?.webContents.getURL())).toBe(before);
    expect(page.url()).toBe(before);
  });

  it('denies permissions', async () => {
    const result = await page.evaluate(`(async () => {
      const media = navigator.mediaDevices
        ? await navigator.mediaDevices.getUserMedia({ audio: true }).then(() => 'granted', (error) => error.name)
        : 'unavailable';
      return { media, notification: typeof Notification === 'undefined' ? 'unavailable' : Notification.permission };
    })()`);
    expect(result).not.toMatchObject({ media: 'granted' });
    expect(result).not.toMatchObject({ notification: 'granted' });
    expect(result).toEqual({ media: expect.any(String), notification: expect.any(String) });
  });
});
