/**
 * Picks the transport: the preload's bridge inside the desktop app, else the
 * serve-mode HTTP + WebSocket client. Both implement the same InkwellApi.
 */
import type { ClientApi } from './client';
import { createElectronApi } from './electron-client';
import { createHttpApi } from './http-client';

/** The API of the environment the renderer runs in. */
export function getApi(): ClientApi {
  return createElectronApi() ?? createHttpApi();
}
