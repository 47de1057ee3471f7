/** Keyboard labels and matching that differ between macOS and the rest. */

/** True on macOS, where the primary modifier is Cmd. */
export const isMac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

/** The label of the primary modifier: "⌘" or "Ctrl". */
export const modLabel = isMac ? '⌘' : 'Ctrl';

/** True for Ctrl+Enter (Cmd+Enter on macOS). */
export function isContinueKey(event: KeyboardEvent): boolean {
  return event.key === 'Enter' && (isMac ? event.metaKey : event.ctrlKey) && !event.altKey && !event.shiftKey;
}

/** -1 for Alt+[, 1 for Alt+], else 0 (by physical key, since Alt changes the character on macOS). */
export function cycleStep(event: KeyboardEvent): number {
  if (!event.altKey || event.ctrlKey || event.metaKey) return 0;
  if (event.code === 'BracketLeft') return -1;
  if (event.code === 'BracketRight') return 1;
  return 0;
}

/** True for Ctrl+S (Cmd+S on macOS). */
export function isSaveKey(event: KeyboardEvent): boolean {
  return event.key.toLowerCase() === 's' && (isMac ? event.metaKey : event.ctrlKey) && !event.altKey && !event.shiftKey;
}
