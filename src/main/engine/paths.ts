/**
 * Where Inkwell keeps its data: $INKWELL_HOME, else the platform's user-data
 * folder for "Inkwell" (the same folder Electron's app.getPath('userData') gives).
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** Inkwell's data folder (absolute). */
export function resolveHome(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  const explicit = env.INKWELL_HOME;
  if (explicit) return resolve(explicit);
  const home = homedir();
  if (platform === 'win32') return join(env.APPDATA || join(home, 'AppData', 'Roaming'), 'Inkwell');
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'Inkwell');
  // XDG Base Directory spec: a relative $XDG_CONFIG_HOME is invalid and must be ignored.
  const xdg = env.XDG_CONFIG_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(home, '.config'), 'Inkwell');
}
