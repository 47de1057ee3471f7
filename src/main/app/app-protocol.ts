/**
 * Serves the built renderer (out/renderer) on `app://inkwell/…` instead of
 * file://, as Electron's security checklist asks (item 18): pages get a real
 * origin, and nothing outside the renderer folder can ever be read.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';
import { protocol } from 'electron';
import { APP_HOST, APP_SCHEME } from './origins';

/** Content types of the files Vite emits; anything else is served as bytes. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

/**
 * Must run before `app.whenReady()`. `standard` gives the scheme real origins
 * and relative URL resolution; `secure` makes it a secure context;
 * `supportFetchAPI` + `corsEnabled` are needed because Vite emits
 * `<script type="module" crossorigin>`, which is fetched in CORS mode.
 */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true } },
  ]);
}

/**
 * Maps an `app://inkwell/…` URL to a file inside `rendererDir`, or null when
 * the URL names another host, escapes the folder (`..`, `%2e%2e`, encoded
 * separators, absolute paths) or is malformed.
 */
export function resolveAppAsset(rendererDir: string, url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== `${APP_SCHEME}:` || parsed.host !== APP_HOST) return null;
  let pathname: string;
  try {
    pathname = decodeURIComponent(parsed.pathname);
  } catch {
    return null;
  }
  if (pathname === '' || pathname === '/') pathname = '/index.html';
  // After decoding, a backslash or NUL can only have come from an encoded
  // byte: Windows treats "\" as a separator, and NUL truncates C paths.
  // A ":" would make a Windows drive-relative path ("C:") or an NTFS stream; Vite never emits one.
  if (pathname.includes('\\') || pathname.includes('\0') || pathname.includes(':')) return null;
  const segments = pathname.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '..' || s === '.')) return null;
  const root = resolve(rendererDir);
  const file = resolve(root, ...segments);
  const rel = relative(root, file);
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) return null;
  return file;
}

/** Headers every app response carries; HTML pages also carry the CSP. */
function responseHeaders(file: string, csp: string): Record<string, string> {
  const ext = extname(file).toLowerCase();
  const headers: Record<string, string> = {
    'Content-Type': CONTENT_TYPES[ext] ?? 'application/octet-stream',
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-cache',
  };
  // Header-level CSP must be set here: webRequest.onHeadersReceived does not
  // fire for custom protocols (electron/electron#6021).
  if (ext === '.html') headers['Content-Security-Policy'] = csp;
  return headers;
}

/** The request handler behind `protocol.handle('app', …)`, exported for tests. */
export function createAppRequestHandler(rendererDir: string, csp: string): (request: Request) => Promise<Response> {
  return async (request: Request): Promise<Response> => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return new Response('Method Not Allowed', { status: 405, headers: { Allow: 'GET, HEAD' } });
    }
    const file = resolveAppAsset(rendererDir, request.url);
    if (file === null) return notFound();
    try {
      const info = await stat(file);
      if (!info.isFile()) return notFound();
      const body = request.method === 'HEAD' ? null : await readFile(file);
      return new Response(body, { status: 200, headers: responseHeaders(file, csp) });
    } catch {
      return notFound();
    }
  };
}

function notFound(): Response {
  return new Response('Not Found', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
}

/** Installs the handler on the default session (after `app.whenReady()`). */
export function registerAppProtocol(rendererDir: string, csp: string): void {
  protocol.handle(APP_SCHEME, createAppRequestHandler(rendererDir, csp));
}
