import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveHome } from '../../../src/main/engine/paths';

describe('resolveHome', () => {
  it('prefers $INKWELL_HOME, made absolute', () => {
    expect(resolveHome({ INKWELL_HOME: '/data/ink' }, 'linux')).toBe(resolve('/data/ink'));
    expect(resolveHome({ INKWELL_HOME: 'rel/dir' }, 'darwin')).toBe(resolve('rel/dir'));
  });

  it('uses the platform user-data folder otherwise', () => {
    expect(resolveHome({}, 'linux')).toBe(join(homedir(), '.config', 'Inkwell'));
    expect(resolveHome({ XDG_CONFIG_HOME: '/xdg' }, 'linux')).toBe(join('/xdg', 'Inkwell'));
    // The XDG spec says a relative path is invalid and must be ignored.
    expect(resolveHome({ XDG_CONFIG_HOME: 'relative' }, 'linux')).toBe(join(homedir(), '.config', 'Inkwell'));
    expect(resolveHome({}, 'darwin')).toBe(join(homedir(), 'Library', 'Application Support', 'Inkwell'));
    expect(resolveHome({ APPDATA: 'C:\\Users\\me\\AppData\\Roaming' }, 'win32')).toBe(join('C:\\Users\\me\\AppData\\Roaming', 'Inkwell'));
    expect(resolveHome({ INKWELL_HOME: '' }, 'linux')).toBe(join(homedir(), '.config', 'Inkwell'));
  });
});
