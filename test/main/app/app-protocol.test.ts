import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { protocol, resetElectronMock } from '../../mocks/electron';
import { createAppRequestHandler, registerAppProtocol, registerAppScheme, resolveAppAsset } from '../../../src/main/app/app-protocol';

vi.mock('electron', () => import('../../mocks/electron'));

let root: string;
let rendererDir: string;
const CSP = "default-src 'none'";

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'inkwell-protocol-'));
  rendererDir = join(root, 'renderer');
  mkdirSync(join(rendererDir, 'assets'), { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Inkwell</title>');
  writeFileSync(join(rendererDir, 'assets', 'index-abc.js'), 'console.log(1)');
  writeFileSync(join(rendererDir, 'assets', 'a b.css'), 'body{}');
  // A file beside the renderer folder whose name shares its prefix: must stay unreachable.
  writeFileSync(join(root, 'secret.txt'), 'secret');
  mkdirSync(join(root, 'renderer-evil'));
  writeFileSync(join(root, 'renderer-evil', 'x.js'), 'evil');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeEach(() => resetElectronMock());

describe('resolveAppAsset', () => {
  it('maps app://inkwell paths into the renderer folder', () => {
    expect(resolveAppAsset(rendererDir, 'app://inkwell/')).toBe(join(rendererDir, 'index.html'));
    expect(resolveAppAsset(rendererDir, 'app://inkwell')).toBe(join(rendererDir, 'index.html'));
    expect(resolveAppAsset(rendererDir, 'app://inkwell/assets/index-abc.js?v=1#x')).toBe(join(rendererDir, 'assets', 'index-abc.js'));
    expect(resolveAppAsset(rendererDir, 'app://inkwell/assets/a%20b.css')).toBe(join(rendererDir, 'assets', 'a b.css'));
  });

  it.each([
    'app://inkwell/assets/..%2f..%2fsecret.txt',
    'app://inkwell/..%5csecret.txt',
    'app://inkwell/index.html%00.js',
    'app://inkwell/C:/Windows/win.ini',
    'app://inkwell/index.html:stream',
    'app://inkwell/%E0%A4%A',
    'app://evil/index.html',
    'app://inkwell.evil/index.html',
    'https://inkwell/index.html',
    'file:///etc/passwd',
    'not a url',
  ])('refuses %s', (url) => {
    expect(resolveAppAsset(rendererDir, url)).toBeNull();
  });

  // The URL parser already folds these dot segments (also in %2e form) at the root,
  // as Chromium does before the handler sees them: they must land inside the folder.
  it.each([
    ['app://inkwell/../secret.txt', 'secret.txt'],
    ['app://inkwell/%2e%2e/secret.txt', 'secret.txt'],
    ['app://inkwell/%2E%2E/%2E%2E/etc/passwd', 'etc/passwd'],
    ['app://inkwell/%2fetc%2fpasswd', 'etc/passwd'],
    ['app://inkwell//etc/passwd', 'etc/passwd'],
    ['app://inkwell/../renderer-evil/x.js', 'renderer-evil/x.js'],
  ])('keeps %s inside the renderer folder', (url, inside) => {
    expect(resolveAppAsset(rendererDir, url)).toBe(join(rendererDir, inside));
  });
});

describe('createAppRequestHandler', () => {
  const handler = () => createAppRequestHandler(rendererDir, CSP);

  it('serves index.html with its type, nosniff and the CSP header', async () => {
    const response = await handler()(new Request('app://inkwell/index.html'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toBe(CSP);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await response.text()).toContain('<title>Inkwell</title>');
  });

  it('serves scripts as JavaScript (module scripts need the right type)', async () => {
    const response = await handler()(new Request('app://inkwell/assets/index-abc.js'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toBeNull();
    expect(await response.text()).toBe('console.log(1)');
  });

  it.each([
    'app://inkwell/%2e%2e/secret.txt',
    'app://inkwell/..%2fsecret.txt',
    'app://inkwell/../renderer-evil/x.js',
    'app://inkwell/missing.js',
    'app://inkwell/assets',
    'app://other/index.html',
  ])(
    'answers 404 for %s',
    async (url) => {
      const response = await handler()(new Request(url));
      expect(response.status).toBe(404);
      expect(await response.text()).toBe('Not Found');
    },
  );

  it('refuses methods other than GET and HEAD', async () => {
    const response = await handler()(new Request('app://inkwell/index.html', { method: 'POST', body: 'x' }));
    expect(response.status).toBe(405);
  });
});

describe('scheme registration', () => {
  it('registers app: as standard and secure, and installs the handler', () => {
    registerAppScheme();
    expect(protocol.registerSchemesAsPrivileged).toHaveBeenCalledWith([
      expect.objectContaining({ scheme: 'app', privileges: expect.objectContaining({ standard: true, secure: true }) }),
    ]);
    registerAppProtocol(rendererDir, CSP);
    expect(protocol.handle).toHaveBeenCalledWith('app', expect.any(Function));
  });
});
