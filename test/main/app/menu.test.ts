import { describe, expect, it } from 'vitest';
import type { MenuItemConstructorOptions } from 'electron';
import { buildMenuTemplate } from '../../../src/main/app/menu';

function roles(items: MenuItemConstructorOptions[]): string[] {
  return items.flatMap((item) => [
    ...(item.role ? [item.role] : []),
    ...(Array.isArray(item.submenu) ? roles(item.submenu) : []),
  ]);
}

describe('buildMenuTemplate', () => {
  it('has the standard edit roles on every platform', () => {
    for (const platform of ['linux', 'win32', 'darwin'] as const) {
      const edit = buildMenuTemplate(platform, 'Inkwell', false).find((item) => item.label === 'Edit');
      expect(roles(edit?.submenu as MenuItemConstructorOptions[])).toEqual(
        expect.arrayContaining(['undo', 'redo', 'cut', 'copy', 'paste', 'selectAll']),
      );
    }
  });

  it('adds the app menu on macOS only', () => {
    expect(buildMenuTemplate('darwin', 'Inkwell', false)[0]?.label).toBe('Inkwell');
    expect(buildMenuTemplate('linux', 'Inkwell', false)[0]?.label).toBe('File');
    expect(roles(buildMenuTemplate('linux', 'Inkwell', false))).toContain('quit');
  });

  it('offers developer tools only when asked', () => {
    expect(roles(buildMenuTemplate('linux', 'Inkwell', true))).toContain('toggleDevTools');
    expect(roles(buildMenuTemplate('linux', 'Inkwell', false))).not.toContain('toggleDevTools');
  });
});
