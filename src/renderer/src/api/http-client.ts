/**
 * The serve-mode client of the API contract: calls are POSTs to
 * `/api/call/<method>`, events arrive on the WebSocket `/api/events`
 * (TEAM.md "Serve-mode wire protocol"). The access token travels in the
 * HttpOnly cookie the server set, so this code never sees it.
 *
 * Browser code: no Node imports. The globals it needs are looked up on
 * `globalThis` and can be injected, so that tests can run it under Node.
 */
import { ApiError, type InkwellApi, type MethodName, type MethodRequest, type MethodResponse, type ServerEvent } from '../../../shared/api';

/** The part of a WebSocket the client uses. */
export interface SocketLike {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(code?: number, reason?: string): void;
}

/** The part of `fetch` the client uses. */
export type FetchLike = (
  url: string,
  init: { method: 'POST'; credentials: 'same-origin'; headers: Record<string, string>; body: string },
) => Promise<{ status: number; json(): Promise<unknown> }>;

/** Injectables; a page served by `inkwell serve` needs none of them. */
export interface HttpApiOptions {
  /** `http://host:port`; defaults to the page's origin. */
  baseUrl?: string;
  fetch?: FetchLike;
  createSocket?: (url: string) => SocketLike;
  /** First reconnect delay; doubles up to `maxReconnectMs`. */
  initialReconnectMs?: number;
  maxReconnectMs?: number;
}

interface BrowserGlobals {
  location?: { origin: string };
  fetch?: FetchLike;
  WebSocket?: new (url: string) => SocketLike;
}

/** The InkwellApi over HTTP + WebSocket. */
export function createHttpApi(options: HttpApiOptions = {}): InkwellApi {
  const globals = globalThis as unknown as BrowserGlobals;
  const baseUrl = (options.baseUrl ?? globals.location?.origin ?? '').replace(/\/+$/, '');
  const fetchImpl: FetchLike | undefined = options.fetch ?? globals.fetch?.bind(globalThis);
  const SocketClass = globals.WebSocket;
  const createSocket = options.createSocket ?? (SocketClass ? (url: string) => new SocketClass(url) : undefined);
  const initialReconnectMs = options.initialReconnectMs ?? 250;
  const maxReconnectMs = options.maxReconnectMs ?? 10_000;
  const eventsUrl = `${baseUrl.replace(/^http/, 'ws')}/api/events`;

  const listeners = new Set<(event: ServerEvent) => void>();
  let socket: SocketLike | null = null;
  let reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  let attempts = 0;

  function deliver(data: unknown): void {
    if (typeof data !== 'string') return;
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    const channel = (event as { channel?: unknown } | null)?.channel;
    if (channel !== 'generation' && channel !== 'engine') return;
    for (const listener of [...listeners]) {
      try {
        listener(event as ServerEvent);
      } catch (error) {
        console.error('inkwell: an event listener threw', error);
      }
    }
  }

  function connect(): void {
    reconnectTimer = null;
    if (listeners.size === 0 || socket || !createSocket) return;
    const current = createSocket(eventsUrl);
    socket = current;
    current.onopen = () => {
      attempts = 0;
    };
    current.onmessage = (event) => deliver(event.data);
    current.onerror = () => {};
    current.onclose = () => {
      if (socket !== current) return;
      socket = null;
      if (listeners.size === 0) return;
      // Exponential backoff with jitter, so that a restarted server is not hit by every tab at once.
      const delay = Math.min(maxReconnectMs, initialReconnectMs * 2 ** attempts) * (0.75 + Math.random() * 0.5);
      attempts += 1;
      reconnectTimer = setTimeout(connect, delay);
    };
  }

  function disconnect(): void {
    if (reconnectTimer !== null) clearTimeout(reconnectTimer);
    reconnectTimer = null;
    attempts = 0;
    const current = socket;
    socket = null;
    current?.close(1000, 'no more subscribers');
  }

  return {
    async call<M extends MethodName>(method: M, params: MethodRequest<M>): Promise<MethodResponse<M>> {
      if (!fetchImpl) throw new ApiError('internal', 'this browser has no fetch');
      let response: Awaited<ReturnType<FetchLike>>;
      try {
        response = await fetchImpl(`${baseUrl}/api/call/${encodeURIComponent(method)}`, {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(params ?? {}),
        });
      } catch (error) {
        throw new ApiError('internal', `the Inkwell server cannot be reached: ${error instanceof Error ? error.message : String(error)}`);
      }
      let body: unknown;
      try {
        body = await response.json();
      } catch {
        throw new ApiError('internal', `the Inkwell server answered ${response.status} without a JSON body`);
      }
      if (body && typeof body === 'object') {
        if ('error' in body) throw ApiError.from((body as { error: unknown }).error);
        if ('result' in body && response.status < 400) return (body as { result: MethodResponse<M> }).result;
      }
      throw new ApiError('internal', `the Inkwell server answered ${response.status} with an unexpected body`);
    },

    subscribe(listener) {
      listeners.add(listener);
      connect();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) disconnect();
      };
    },
  };
}
