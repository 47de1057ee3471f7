import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { electronSqliteAddonPath, explainNativeLoadError, findElectronSqliteAddon } from '../../../src/main/app/native-binding';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'inkwell-native-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the Electron-ABI SQLite addon', () => {
  it('lives in .electron-native/ in development and resources/native/ when packaged', () => {
    expect(electronSqliteAddonPath({ isPackaged: false, appPath: '/src/inkwell', resourcesPath: '/x' })).toBe(
      join('/src/inkwell', '.electron-native', 'better_sqlite3.node'),
    );
    expect(electronSqliteAddonPath({ isPackaged: true, appPath: '/x/app.asar', resourcesPath: '/opt/Inkwell/resources' })).toBe(
      join('/opt/Inkwell/resources', 'native', 'better_sqlite3.node'),
    );
  });

  it('is used only when the file exists', () => {
    const opts = { isPackaged: false, appPath: dir, resourcesPath: dir };
    expect(findElectronSqliteAddon(opts)).toBeUndefined();
    mkdirSync(join(dir, '.electron-native'));
    writeFileSync(join(dir, '.electron-native', 'better_sqlite3.node'), '');
    expect(findElectronSqliteAddon(opts)).toBe(join(dir, '.electron-native', 'better_sqlite3.node'));
  });

  it('turns an ABI mismatch into an instruction, and leaves other errors alone', () => {
    const abi = new Error(
      "The module '/x/better_sqlite3.node' was compiled against a different Node.js version using NODE_MODULE_VERSION 115. This version of Node.js requires NODE_MODULE_VERSION 140.",
    );
    expect(explainNativeLoadError(abi)).toMatch(/ensure-electron-native\.mjs[\s\S]*NODE_MODULE_VERSION 115/);
    expect(explainNativeLoadError(new Error('SQLITE_CORRUPT: database disk image is malformed'))).toBeNull();
  });
});
