/**
 * The sandboxed preload: exposes `window.inkwell`, a frozen object of named
 * functions (one per API method, each bound to its one fixed channel) plus
 * `onEvent`. `ipcRenderer` itself is never exposed (Electron security
 * checklist item 20). Payload validation happens in main, not here.
 */
import { contextBridge, ipcRenderer } from 'electron';
import type { IpcRendererEvent } from 'electron';
import type { ServerEvent } from '../shared/api';
import { bridgeMethodNames, channelFor, EVENT_CHANNEL } from './bridge';
import type { InkwellBridge } from './bridge';

/** Builds the object handed to contextBridge. */
function createBridge(): InkwellBridge {
  const bridge: Record<string, unknown> = {};
  for (const method of bridgeMethodNames) {
    const channel = channelFor(method);
    bridge[method] = (params: unknown) => ipcRenderer.invoke(channel, params);
  }
  bridge.onEvent = (listener: (event: ServerEvent) => void): (() => void) => {
    if (typeof listener !== 'function') throw new TypeError('inkwell.onEvent expects a function');
    // Only the payload crosses over: the IpcRendererEvent would hand the page
    // `event.sender`, i.e. ipcRenderer itself.
    const forward = (_event: IpcRendererEvent, payload: ServerEvent): void => listener(payload);
    ipcRenderer.on(EVENT_CHANNEL, forward);
    return () => {
      ipcRenderer.removeListener(EVENT_CHANNEL, forward);
    };
  };
  return Object.freeze(bridge) as InkwellBridge;
}

contextBridge.exposeInMainWorld('inkwell', createBridge());
