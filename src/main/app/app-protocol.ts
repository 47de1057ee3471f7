/**
 * Serves the built renderer (out/renderer) on `app://inkwell/…` instead of
 * file://, as Electron's security checklist asks (item 18): pages get a real
 * origin, and nothing outside the renderer folder can ever be read.
 */
import { readFile, realpath } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { protocol } from 'electron';
import { contentTypeOf, resolveInside, statInside } from '../static-files';
import { APP_HOST, APP_SCHEME } from './origins';

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
  return resolveInside(rendererDir, pathname);
}

/** Headers every app response carries; HTML pages also carry the CSP. */
function responseHeaders(file: string, csp: string): Record<string, string> {
  const headers: Record<string, string> = {
    'Content-Type': contentTypeOf(file),
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-cache',
  };
  // Header-level CSP must be set here: webRequest.onHeadersReceived does not
  // fire for custom protocols (electron/electron#6021).
  if (extname(file).toLowerCase() === '.html') headers['Content-Security-Policy'] = csp;
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
      // A symlink inside the folder must not lead out of it either.
      const found = await statInside(await realpath(resolve(rendererDir)), file);
      if (found === null) return notFound();
      const body = request.method === 'HEAD' ? null : await readFile(found.path);
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
