/**
 * The Electron bridge's fixed vocabulary: channel names, the reply envelope
 * and the list of exposed methods. Shared by the preload and the main
 * process's IPC transport; it has no runtime imports, so the sandboxed
 * preload bundle stays a few kilobytes (no zod).
 */
import type { ApiErrorShape, MethodName, MethodRequest, MethodResponse, ServerEvent } from '../shared/api';

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

/**
 * The methods the preload exposes, as a plain list. It must list every
 * MethodName exactly once: `Exact` below fails type checking when a method
 * is added to src/shared/api.ts and not here (and a unit test compares it
 * with `methodNames` at run time).
 */
export const bridgeMethodNames = [
  'app.info',
  'models.list',
  'models.status',
  'models.import',
  'models.remove',
  'generate.start',
  'generate.cancel',
  'tokenize',
  'history.list',
  'history.get',
  'history.star',
  'history.accept',
  'history.delete',
  'history.export',
  'documents.list',
  'documents.get',
  'documents.create',
  'documents.save',
  'documents.delete',
  'files.open',
  'files.save',
  'settings.get',
  'settings.set',
] as const satisfies readonly MethodName[];

type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type AssertTrue<T extends true> = T;
/** Compile-time proof that `bridgeMethodNames` lists every MethodName (type checking fails otherwise). */
export type BridgeMethodListIsComplete = AssertTrue<Exact<(typeof bridgeMethodNames)[number], MethodName>>;
