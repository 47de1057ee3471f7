/**
 * The built renderer as static files, for both ways it is served: the desktop
 * app's app:// protocol (app/app-protocol.ts) and serve mode's HTTP server
 * (transports/http-ws.ts). One content-type table and one path check, so the
 * two cannot drift apart. Plain Node: never imports electron.
 */
import { realpath, stat } from 'node:fs/promises';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';

/** Content types of the files Vite emits; anything else is served as bytes. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
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
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/** The Content-Type of `file` by its extension; application/octet-stream when unknown. */
export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

function isStrictlyInside(root: string, file: string): boolean {
  const rel = relative(root, file);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * Maps a percent-decoded URL path ("/assets/x.js"; "" and "/" mean index.html) to a path inside
 * `root`, or null when it could name anything else: "." or ".." segments, and characters that
 * only an encoded byte can have put there — a backslash (a separator on Windows), NUL (truncates
 * C paths) — or a ":" (a Windows drive-relative path or an NTFS stream; Vite never emits one).
 * The file need not exist; symlinks are checked by `statInside`.
 */
export function resolveInside(root: string, decodedPath: string): string | null {
  const path = decodedPath === '' || decodedPath === '/' ? '/index.html' : decodedPath;
  if (path.includes('\\') || path.includes('\0') || path.includes(':')) return null;
  const segments = path.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '..' || s === '.')) return null;
  const base = resolve(root);
  const file = resolve(base, ...segments);
  return isStrictlyInside(base, file) ? file : null;
}

/**
 * The regular file `file` really is (symlinks followed) and its size, or null when it is
 * missing, not a regular file, or resolves outside `realRoot` (which must itself be a real path).
 */
export async function statInside(realRoot: string, file: string): Promise<{ path: string; size: number } | null> {
  try {
    const real = await realpath(file);
    if (!isStrictlyInside(realRoot, real)) return null;
    const info = await stat(real);
    return info.isFile() ? { path: real, size: info.size } : null;
  } catch {
    return null;
  }
}
