/**
 * Remembers the main window's bounds between runs in <home>/window-state.json.
 * A missing, unreadable or off-screen record simply means default bounds.
 */
import { readFileSync } from 'node:fs';
import type { Rectangle } from 'electron';
import { writeFileAtomic } from './atomic-write';

/** Saved window geometry. */
export interface WindowState {
  bounds: Rectangle;
  maximized: boolean;
}

function isRectangle(value: unknown): value is Rectangle {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return ['x', 'y', 'width', 'height'].every((k) => Number.isSafeInteger(r[k])) && (r.width as number) > 0 && (r.height as number) > 0;
}

/** Reads the saved state, or undefined when there is none worth using. */
export function loadWindowState(file: string): WindowState | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { bounds, maximized } = raw as Record<string, unknown>;
  if (!isRectangle(bounds)) return undefined;
  return { bounds, maximized: maximized === true };
}

/** Keeps saved bounds only if enough of the window (100×50 px) is on one of `workAreas`; a monitor may be gone. */
export function visibleBounds(state: WindowState | undefined, workAreas: readonly Rectangle[]): WindowState | undefined {
  if (!state) return undefined;
  const b = state.bounds;
  const onScreen = workAreas.some((a) => {
    const w = Math.min(b.x + b.width, a.x + a.width) - Math.max(b.x, a.x);
    const h = Math.min(b.y + b.height, a.y + a.height) - Math.max(b.y, a.y);
    return w >= 100 && h >= 50;
  });
  return onScreen ? state : undefined;
}

/** Saves the state (atomically; failures are reported, never thrown). */
export async function saveWindowState(file: string, state: WindowState, log: (line: string) => void): Promise<void> {
  try {
    await writeFileAtomic(file, `${JSON.stringify(state)}\n`);
  } catch (error) {
    log(`window state: could not save ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
