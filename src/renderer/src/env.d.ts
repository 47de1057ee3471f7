/// <reference types="svelte" />
/// <reference types="vite/client" />
/**
 * Ambient types of the renderer: Vite/Svelte module types, and `window.inkwell`, the bridge the
 * Electron preload exposes (its type is derived from the method table, src/shared/bridge.ts).
 */
import type { InkwellBridge } from '../../shared/bridge';

export type { InkwellBridge, IpcEnvelope } from '../../shared/bridge';

declare global {
  interface Window {
    /** Set by the Electron preload; undefined in a browser (serve mode). */
    readonly inkwell?: InkwellBridge;
  }
}
