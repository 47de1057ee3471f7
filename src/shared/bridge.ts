/**
 * The Electron bridge's fixed vocabulary, shared by the preload, the main process's IPC transport
 * and the renderer's `window.inkwell` type: channel names, the reply envelope and the bridge's
 * shape, all derived from the method table in api.ts. Types and two strings only, so the sandboxed
 * preload bundle that imports it stays free of zod.
 */
import type { ApiErrorShape, MethodName, MethodRequest, MethodResponse, ServerEvent } from './api';

/** Every method channel is `inkwell:<method>`; the prefix is checked on both sides. */
export const CHANNEL_PREFIX = 'inkwell:';
/** Main → renderer channel carrying one ServerEvent per message. */
export const EVENT_CHANNEL = 'inkwell:event';

/** The IPC channel that carries one API method. */
export function channelFor(method: MethodName): string {
  return `${CHANNEL_PREFIX}${method}`;
}

/**
 * Replies travel as envelopes because Electron flattens errors thrown in an
 * `ipcMain.handle` listener into a plain Error whose message is prefixed with
 * "Error invoking remote method", losing the error's kind.
 */
export type IpcEnvelope<T> = { ok: true; result: T } | { ok: false; error: ApiErrorShape };

/** What `window.inkwell` holds: one function per API method, plus `onEvent`. */
export type InkwellBridge = {
  readonly [M in MethodName]: (params: MethodRequest<M>) => Promise<IpcEnvelope<MethodResponse<M>>>;
} & {
  /** Subscribes to ServerEvents; the listener gets the payload only. Returns an unsubscribe function. */
  readonly onEvent: (listener: (event: ServerEvent) => void) => () => void;
};
