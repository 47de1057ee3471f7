/**
 * Where the Electron-ABI build of better-sqlite3 lives. `npm test` runs on
 * Node's ABI and uses node_modules/better-sqlite3 as installed; the app loads
 * a second build made for Electron by scripts/ensure-electron-native.mjs, so
 * neither ever needs a manual rebuild (WiseLibs/better-sqlite3#126, #1393).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** File name of the addon, in .electron-native/ (development) and resources/native/ (packaged). */
export const SQLITE_ADDON_FILE = 'better_sqlite3.node';

/** Where the app looks for the Electron-ABI addon. */
export function electronSqliteAddonPath(opts: { isPackaged: boolean; appPath: string; resourcesPath: string }): string {
  return opts.isPackaged
    ? join(opts.resourcesPath, 'native', SQLITE_ADDON_FILE)
    : join(opts.appPath, '.electron-native', SQLITE_ADDON_FILE);
}

/** The addon path when the file exists; undefined lets better-sqlite3 load its default build. */
export function findElectronSqliteAddon(opts: { isPackaged: boolean; appPath: string; resourcesPath: string }): string | undefined {
  const path = electronSqliteAddonPath(opts);
  return existsSync(path) ? path : undefined;
}

/**
 * Explains a native-module load failure in words a developer can act on, or
 * returns null when `error` is something else.
 */
export function explainNativeLoadError(error: unknown): string | null {
  const message = error instanceof Error ? error.message : String(error);
  if (!/NODE_MODULE_VERSION|compiled against a different Node\.js version|invalid ELF header|not a valid Win32 application|wrong ELF class|mach-o|Could not locate the bindings file/i.test(message)) {
    return null;
  }
  return (
    'better-sqlite3 is not built for this version of Electron. Run `node scripts/ensure-electron-native.mjs` ' +
    '(npm start does this for you), then start Inkwell again.\n\n' +
    message
  );
}
