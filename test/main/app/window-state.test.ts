import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadWindowState, saveWindowState, visibleBounds } from '../../../src/main/app/window-state';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'inkwell-window-state-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const screen = [{ x: 0, y: 0, width: 1920, height: 1040 }];

describe('window state', () => {
  it('round-trips bounds and the maximized flag', async () => {
    const file = join(dir, 'window-state.json');
    await saveWindowState(file, { bounds: { x: 10, y: 20, width: 800, height: 600 }, maximized: true }, vi.fn());
    expect(loadWindowState(file)).toEqual({ bounds: { x: 10, y: 20, width: 800, height: 600 }, maximized: true });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toHaveProperty('bounds');
  });

  it.each(['', 'not json', '[]', '{"bounds":{"x":0,"y":0,"width":-5,"height":10}}', '{"bounds":{"x":"0","y":0,"width":5,"height":10}}'])(
    'ignores a bad record: %s',
    (content) => {
      const file = join(dir, 'window-state.json');
      writeFileSync(file, content);
      expect(loadWindowState(file)).toBeUndefined();
    },
  );

  it('ignores a missing file', () => {
    expect(loadWindowState(join(dir, 'none.json'))).toBeUndefined();
  });

  it('drops bounds that are no longer on any screen', () => {
    const onScreen = { bounds: { x: 100, y: 100, width: 800, height: 600 }, maximized: false };
    const offScreen = { bounds: { x: 3000, y: 100, width: 800, height: 600 }, maximized: false };
    const barelyVisible = { bounds: { x: 1900, y: 100, width: 800, height: 600 }, maximized: false };
    expect(visibleBounds(onScreen, screen)).toBe(onScreen);
    expect(visibleBounds(offScreen, screen)).toBeUndefined();
    expect(visibleBounds(barelyVisible, screen)).toBeUndefined();
    expect(visibleBounds(undefined, screen)).toBeUndefined();
  });

  it('reports, never throws, when it cannot save', async () => {
    const log = vi.fn();
    await saveWindowState(join(dir, 'missing-folder', 'state.json'), { bounds: screen[0]!, maximized: false }, log);
    expect(log).toHaveBeenCalledWith(expect.stringContaining('could not save'));
  });
});
