/**
 * The Electron transport of the API contract. One `ipcMain.handle` channel per
 * method (`inkwell:<method>`) and one event channel (`inkwell:event`).
 * Every call goes through one wrapper that checks the SENDER first (a frame of
 * ours, top-level), modelled on VS Code's validatedIpcMain
 * (microsoft/vscode src/vs/base/parts/ipc/electron-main/ipcMain.ts), and only
 * then hands the payload to the API service, whose `handle` validates it.
 */
import { BrowserWindow, ipcMain } from 'electron';
import type { IpcMainInvokeEvent, WebContents } from 'electron';
import { ApiError, methodNames } from '../../shared/api';
import type { MethodName } from '../../shared/api';
import { channelFor, EVENT_CHANNEL } from '../../shared/bridge';
import type { IpcEnvelope } from '../../shared/bridge';
import type { ApiService } from '../api/service';
import type { OriginPolicy } from '../app/origins';

/** The part of the API service this transport needs. */
export type IpcApiService = Pick<ApiService, 'handle' | 'subscribe'>;

/** The sender fields the check reads (a subset of IpcMainInvokeEvent). */
export type IpcSender = Pick<IpcMainInvokeEvent, 'senderFrame'>;

/**
 * Throws ApiError('unauthorized') unless the message comes from the top-level
 * frame of a page on a trusted origin (security checklist item 17). A missing
 * frame (navigated away or destroyed before the message was handled) and a
 * URL we cannot parse are refused too: when in doubt, refuse.
 */
export function assertTrustedSender(event: IpcSender, policy: OriginPolicy): void {
  const frame = event.senderFrame;
  if (!frame) throw new ApiError('unauthorized', 'refused IPC message: the sending frame is gone');
  if (frame.parent !== null) throw new ApiError('unauthorized', 'refused IPC message from a subframe');
  if (!policy.isTrusted(frame.url)) {
    throw new ApiError('unauthorized', `refused IPC message from untrusted origin ${JSON.stringify(frame.url.slice(0, 200))}`);
  }
}

/**
 * Runs one call and always resolves to an envelope: sender check, then the
 * service. Extra arguments beyond the one payload are a malformed call.
 */
export async function dispatchIpcCall(
  service: IpcApiService,
  policy: OriginPolicy,
  method: MethodName,
  event: IpcSender,
  args: readonly unknown[],
): Promise<IpcEnvelope<unknown>> {
  try {
    assertTrustedSender(event, policy);
    if (args.length > 1) throw new ApiError('invalid_request', `${method}: expected one parameters object, got ${args.length} arguments`);
    return { ok: true, result: await service.handle(method, args[0]) };
  } catch (error) {
    return { ok: false, error: ApiError.from(error).toJSON() };
  }
}

/** Options of `registerElectronIpc`. */
export interface ElectronIpcOptions {
  service: IpcApiService;
  policy: OriginPolicy;
  /** Where refused calls and delivery failures are reported. */
  log?: (line: string) => void;
  /** The WebContents events go to; defaults to every open window's. */
  eventTargets?: () => readonly WebContents[];
}

function windowContents(): WebContents[] {
  return BrowserWindow.getAllWindows()
    .filter((window) => !window.isDestroyed())
    .map((window) => window.webContents);
}

/**
 * Registers one handler per API method and forwards service events to every
 * app window (destroyed ones and pages not on a trusted origin are skipped).
 * Returns a function that removes the handlers and the subscription.
 */
export function registerElectronIpc(options: ElectronIpcOptions): () => void {
  const { service, policy } = options;
  const log = options.log ?? (() => undefined);
  const targets = options.eventTargets ?? windowContents;
  const channels: string[] = [];
  for (const method of methodNames) {
    const channel = channelFor(method);
    channels.push(channel);
    ipcMain.handle(channel, async (event: IpcMainInvokeEvent, ...args: unknown[]) => {
      const reply = await dispatchIpcCall(service, policy, method, event, args);
      if (!reply.ok && reply.error.kind === 'unauthorized') log(`${channel}: ${reply.error.message}`);
      return reply;
    });
  }
  const unsubscribe = service.subscribe((serverEvent) => {
    for (const contents of targets()) {
      if (contents.isDestroyed() || !policy.isTrusted(contents.getURL())) continue;
      try {
        contents.send(EVENT_CHANNEL, serverEvent);
      } catch (error) {
        // A frame torn down between the check and the send (reload, close).
        log(`${EVENT_CHANNEL}: could not deliver an event: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  });
  return () => {
    unsubscribe();
    for (const channel of channels) ipcMain.removeHandler(channel);
  };
}
