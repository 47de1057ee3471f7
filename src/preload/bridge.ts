/**
 * The methods the preload exposes. The list is the method table's keys (src/shared/api.ts),
 * written into the bundle at build time (`define` in electron.vite.config.ts; tests set the global):
 * importing the table itself would pull zod into the sandboxed preload, which must be one
 * self-contained CommonJS file.
 */
import type { MethodName } from '../shared/api';

export { CHANNEL_PREFIX, EVENT_CHANNEL, channelFor } from '../shared/bridge';
export type { InkwellBridge, IpcEnvelope } from '../shared/bridge';

declare const __INKWELL_API_METHODS__: readonly MethodName[];

/** Every API method, in the method table's order. */
export const bridgeMethodNames: readonly MethodName[] = __INKWELL_API_METHODS__;
