/**
 * InkwellApi over the Electron preload bridge (`window.inkwell`). Unwraps the
 * reply envelopes and rethrows errors as ApiError with their kind intact.
 */
import { ApiError } from '../../../shared/api';
import type { InkwellApi, MethodName, MethodRequest, MethodResponse, ServerEvent } from '../../../shared/api';
import type { InkwellBridge, IpcEnvelope } from '../env';

function isEnvelope(value: unknown): value is IpcEnvelope<unknown> {
  return typeof value === 'object' && value !== null && 'ok' in value && typeof value.ok === 'boolean';
}

/**
 * Copies params to plain JSON data before they cross the bridge: Svelte's
 * `$state` proxies cannot be cloned by IPC ("An object could not be cloned"),
 * and JSON is exactly what the HTTP transport sends, so both transports see
 * the same request.
 */
function toWireParams(params: unknown): unknown {
  return params === undefined ? {} : JSON.parse(JSON.stringify(params));
}

/** The API over `window.inkwell`, or null when not running inside the Electron app. */
export function createElectronApi(
  bridge: InkwellBridge | undefined = typeof window === 'undefined' ? undefined : window.inkwell,
): InkwellApi | null {
  if (!bridge) return null;
  return {
    async call<M extends MethodName>(method: M, params: MethodRequest<M>): Promise<MethodResponse<M>> {
      const invoke = bridge[method] as unknown as ((params: unknown) => Promise<unknown>) | undefined;
      if (typeof invoke !== 'function') throw new ApiError('invalid_request', `unknown method "${String(method)}"`);
      let reply: unknown;
      try {
        reply = await invoke(toWireParams(params));
      } catch (error) {
        throw ApiError.from(error);
      }
      if (!isEnvelope(reply)) throw new ApiError('internal', `${method}: malformed reply from the main process`);
      if (reply.ok) return reply.result as MethodResponse<M>;
      throw ApiError.from(reply.error);
    },
    subscribe(listener: (event: ServerEvent) => void): () => void {
      return bridge.onEvent(listener);
    },
  };
}
