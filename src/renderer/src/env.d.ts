/// <reference types="svelte" />
/// <reference types="vite/client" />
/**
 * Ambient types of the renderer: Vite/Svelte module types, and
 * `window.inkwell`, the bridge the Electron preload exposes.
 *
 * The renderer may import only src/shared, so the bridge type is declared
 * here from the shared contract; test/preload/bridge-types.test.ts proves it
 * is the same type as the preload's own (src/preload/bridge.ts).
 */
import type { ApiErrorShape, MethodName, MethodRequest, MethodResponse, ServerEvent } from '../../shared/api';

/** Reply of one bridge call: Electron flattens thrown errors, so results and errors travel as envelopes. */
export type IpcEnvelope<T> = { ok: true; result: T } | { ok: false; error: ApiErrorShape };

/** `window.inkwell`: one function per API method, plus `onEvent`. */
export type InkwellBridge = {
  readonly [M in MethodName]: (params: MethodRequest<M>) => Promise<IpcEnvelope<MethodResponse<M>>>;
} & {
  /** Subscribes to ServerEvents; the listener gets the payload only. Returns an unsubscribe function. */
  readonly onEvent: (listener: (event: ServerEvent) => void) => () => void;
};

declare global {
  interface Window {
    /** Set by the Electron preload; undefined in a browser (serve mode). */
    readonly inkwell?: InkwellBridge;
  }
}
