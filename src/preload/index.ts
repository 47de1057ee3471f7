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

/**
 * One ipcRenderer listener fans events out to the page's listeners, so that
 * many subscriptions never pile up on ipcRenderer (its EventEmitter warns past
 * ten) and one throwing listener does not starve the others.
 */
function createEventFanOut(): (listener: (event: ServerEvent) => void) => () => void {
  const listeners = new Set<(event: ServerEvent) => void>();
  // Only the payload crosses over: the IpcRendererEvent would hand the page
  // `event.sender`, i.e. ipcRenderer itself.
  const forward = (_event: IpcRendererEvent, payload: ServerEvent): void => {
    for (const listener of [...listeners]) {
      try {
        listener(payload);
      } catch (error) {
        console.error('inkwell: an event listener threw', error);
      }
    }
  };
  return (listener) => {
    if (typeof listener !== 'function') throw new TypeError('inkwell.onEvent expects a function');
    // Wrapped so that subscribing the same function twice gives two independent subscriptions.
    const entry = (event: ServerEvent): void => listener(event);
    if (listeners.size === 0) ipcRenderer.on(EVENT_CHANNEL, forward);
    listeners.add(entry);
    return () => {
      if (!listeners.delete(entry)) return;
      if (listeners.size === 0) ipcRenderer.removeListener(EVENT_CHANNEL, forward);
    };
  };
}

/** Builds the object handed to contextBridge. */
function createBridge(): InkwellBridge {
  const bridge: Record<string, unknown> = {};
  for (const method of bridgeMethodNames) {
    const channel = channelFor(method);
    bridge[method] = (params: unknown) => ipcRenderer.invoke(channel, params);
  }
  bridge.onEvent = createEventFanOut();
  return Object.freeze(bridge) as InkwellBridge;
}

contextBridge.exposeInMainWorld('inkwell', createBridge());
