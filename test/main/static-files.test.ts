/**
 * The static-file rules both renderer servers share: content types, the path
 * check, and symlinks that would lead out of the folder.
 */
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contentTypeOf, resolveInside, statInside } from '../../src/main/static-files';
import { useTempDirs } from '../helpers/tmp';

const tempDir = useTempDirs('inkwell-static-');

function makeFolder(): { root: string; renderer: string } {
  const root = realpathSync(tempDir());
  const renderer = join(root, 'renderer');
  mkdirSync(join(renderer, 'assets'), { recursive: true });
  writeFileSync(join(renderer, 'index.html'), '<!doctype html>');
  writeFileSync(join(renderer, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(root, 'secret.txt'), 'TOP SECRET');
  return { root, renderer };
}

describe('contentTypeOf', () => {
  it('types what Vite emits, case-insensitively, and serves anything else as bytes', () => {
    expect(contentTypeOf('/r/index.html')).toBe('text/html; charset=utf-8');
    expect(contentTypeOf('/r/assets/APP.JS')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeOf('/r/assets/app.js.map')).toBe('application/json; charset=utf-8');
    expect(contentTypeOf('/r/assets/font.woff2')).toBe('font/woff2');
    expect(contentTypeOf('/r/assets/blob')).toBe('application/octet-stream');
    expect(contentTypeOf('/r/assets/x.exe')).toBe('application/octet-stream');
  });
});

describe('resolveInside', () => {
  it('maps "/" and "" to index.html and other paths into the folder', () => {
    const { renderer } = makeFolder();
    expect(resolveInside(renderer, '/')).toBe(join(renderer, 'index.html'));
    expect(resolveInside(renderer, '')).toBe(join(renderer, 'index.html'));
    expect(resolveInside(renderer, '/assets/app.js')).toBe(join(renderer, 'assets', 'app.js'));
    expect(resolveInside(renderer, '//assets//app.js')).toBe(join(renderer, 'assets', 'app.js'));
  });

  it.each(['/../secret.txt', '/assets/../../secret.txt', '/./index.html', '/..\\secret.txt', '/index.html\0.js', '/C:/Windows/win.ini', '/index.html:stream', '//'])(
    'refuses %j',
    (path) => {
      const { renderer } = makeFolder();
      expect(resolveInside(renderer, path)).toBeNull();
    },
  );
});

describe('statInside', () => {
  it('finds regular files and their size', async () => {
    const { renderer } = makeFolder();
    expect(await statInside(renderer, join(renderer, 'assets', 'app.js'))).toEqual({ path: join(renderer, 'assets', 'app.js'), size: 14 });
  });

  it('refuses folders, missing files and symlinks that lead out of the folder', async () => {
    const { root, renderer } = makeFolder();
    symlinkSync(join(root, 'secret.txt'), join(renderer, 'assets', 'leak.txt'));
    symlinkSync(join(renderer, 'assets', 'app.js'), join(renderer, 'assets', 'alias.js'));
    expect(await statInside(renderer, join(renderer, 'assets'))).toBeNull();
    expect(await statInside(renderer, join(renderer, 'missing.js'))).toBeNull();
    expect(await statInside(renderer, join(renderer, 'assets', 'leak.txt'))).toBeNull();
    expect(await statInside(renderer, join(renderer, 'assets', 'alias.js'))).toEqual({ path: join(renderer, 'assets', 'app.js'), size: 14 });
  });
});
