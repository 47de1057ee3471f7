/**
 * The serve-mode client of the API contract: calls are POSTs to
 * `/api/call/<method>`, events arrive on the WebSocket `/api/events`. The
 * access token travels in the HttpOnly cookie the server set, so this code
 * never sees it.
 *
 * The socket reconnects with exponential backoff. Events sent while it was
 * down are lost, so after a reconnect the client asks the server about every
 * generation it still believes is running (`generate.get`) and delivers what
 * was missed: a `done` lost in the gap never leaves the UI streaming forever.
 *
 * Browser code: no Node imports. The globals it needs are looked up on
 * `globalThis` and can be injected, so that tests can run it under Node.
 */
import { decodeFrame, FRAME_MIME, fromJsonWire } from '../../../shared/wire-binary';
import { ApiError, type MethodName, type MethodRequest, type MethodResponse, type ServerEvent } from '../../../shared/api';
import type { ClientApi, ConnectionState } from './client';
import { GenerationTracker, type FetchGenerationState } from './generation-resync';

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
) => Promise<{ status: number; json(): Promise<unknown>; headers?: { get(name: string): string | null }; arrayBuffer?(): Promise<ArrayBuffer> }>;

/** Injectables; a page served by `inkwell serve` needs none of them. */
export interface HttpApiOptions {
  /** `http://host:port`; defaults to the page's origin. */
  baseUrl?: string;
  fetch?: FetchLike;
  createSocket?: (url: string) => SocketLike;
  /** First reconnect delay; doubles up to `maxReconnectMs`. */
  initialReconnectMs?: number;
  maxReconnectMs?: number;
  /** Asks the server about one generation after a reconnect; defaults to the `generate.get` method. */
  fetchGenerationState?: FetchGenerationState;
}

interface BrowserGlobals {
  location?: { origin: string };
  fetch?: FetchLike;
  WebSocket?: new (url: string) => SocketLike;
}

/** The InkwellApi over HTTP + WebSocket. */
export function createHttpApi(options: HttpApiOptions = {}): ClientApi {
  const globals = globalThis as unknown as BrowserGlobals;
  const baseUrl = (options.baseUrl ?? globals.location?.origin ?? '').replace(/\/+$/, '');
  const fetchImpl: FetchLike | undefined = options.fetch ?? globals.fetch?.bind(globalThis);
  const SocketClass = globals.WebSocket;
  const createSocket = options.createSocket ?? (SocketClass ? (url: string) => new SocketClass(url) : undefined);
  const initialReconnectMs = options.initialReconnectMs ?? 250;
  const maxReconnectMs = options.maxReconnectMs ?? 10_000;
  const eventsUrl = `${baseUrl.replace(/^http/, 'ws')}/api/events`;
  const listeners = new Set<(event: ServerEvent) => void>();
  const connectionListeners = new Set<(state: ConnectionState) => void>();
  const tracker = new GenerationTracker();
  let socket: SocketLike | null = null;
  let reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  let attempts = 0;
  let connection: ConnectionState = 'connected';
  /** Counts the times the socket opened; a generation started across a change may have lost events. */
  let openings = 0;

  async function post(method: string, params: unknown): Promise<unknown> {
    if (!fetchImpl) throw new ApiError('internal', 'this browser has no fetch');
    let response: Awaited<ReturnType<FetchLike>>;
    try {
      response = await fetchImpl(`${baseUrl}/api/call/${encodeURIComponent(method)}`, {
        method: 'POST',
        credentials: 'same-origin',
        // Typed-array results (the inspector's) come back as one binary frame, not base64.
        headers: { 'Content-Type': 'application/json', Accept: `${FRAME_MIME}, application/json` },
        body: JSON.stringify(params ?? {}),
      });
    } catch (error) {
      throw new ApiError('internal', `the Inkwell server cannot be reached: ${error instanceof Error ? error.message : String(error)}`);
    }
    let body: unknown;
    try {
      if (response.headers?.get('content-type')?.startsWith(FRAME_MIME) && response.arrayBuffer) body = decodeFrame(await response.arrayBuffer());
      else body = fromJsonWire(await response.json());
    } catch {
      throw new ApiError('internal', `the Inkwell server answered ${response.status} without a JSON body`);
    }
    if (body && typeof body === 'object') {
      if ('error' in body) throw ApiError.from((body as { error: unknown }).error);
      if ('result' in body && response.status < 400) return (body as { result: unknown }).result;
    }
    throw new ApiError('internal', `the Inkwell server answered ${response.status} with an unexpected body`);
  }

  const fetchGenerationState: FetchGenerationState =
    options.fetchGenerationState ?? ((generationId) => post('generate.get', { generationId }) as Promise<MethodResponse<'generate.get'>>);

  function emit(event: ServerEvent): void {
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch (error) {
        console.error('inkwell: an event listener threw', error);
      }
    }
  }

  function deliver(data: unknown): void {
    if (typeof data !== 'string') return;
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    const message = event as ServerEvent | null;
    if (message?.channel === 'generation') {
      if (message.event) for (const e of tracker.observe(message.event)) emit({ channel: 'generation', event: e });
    } else if (typeof message?.channel === 'string') {
      // Every other channel (engine, batch, …) goes to the listeners as it came.
      emit(message);
    }
  }

  function setConnection(state: ConnectionState): void {
    if (state === connection) return;
    connection = state;
    for (const listener of [...connectionListeners]) listener(state);
  }

  /** Brings every generation the UI believes is running up to date with the server. */
  function resync(generationIds: readonly string[]): void {
    for (const generationId of generationIds) {
      tracker.beginResync(generationId);
      fetchGenerationState(generationId).then(
        (snapshot) => {
          for (const event of tracker.finishResync(generationId, snapshot)) emit({ channel: 'generation', event });
        },
        (error: unknown) => {
          const reason = ApiError.from(error);
          const message =
            reason.kind === 'not_found'
              ? 'the connection to the server was lost and the server no longer knows this generation (it may have restarted); anything it finished is in History'
              : `the connection to the server was lost while this generation ran, and its progress could not be recovered (${reason.message}); anything it finished is in History`;
          for (const event of tracker.failResync(generationId, { kind: 'internal', message })) emit({ channel: 'generation', event });
        },
      );
    }
  }

  function connect(): void {
    reconnectTimer = null;
    if (listeners.size === 0 || socket || !createSocket) return;
    const current = createSocket(eventsUrl);
    socket = current;
    current.onopen = () => {
      attempts = 0;
      openings += 1;
      const reconnected = openings > 1;
      setConnection('connected');
      if (reconnected) resync(tracker.runningIds());
    };
    current.onmessage = (event) => deliver(event.data);
    current.onerror = () => {};
    current.onclose = () => {
      if (socket !== current) return;
      socket = null;
      if (listeners.size === 0) return;
      setConnection('reconnecting');
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
      const openingsBefore = openings;
      const result = await post(method, params);
      if (method === 'generate.start') {
        const { generationId } = result as MethodResponse<'generate.start'>;
        tracker.track(generationId);
        // The socket dropped while the call was out: what the generation sent meanwhile may be lost.
        if (openings !== openingsBefore) resync([generationId]);
      }
      return result as MethodResponse<M>;
    },
    subscribe(listener) {
      listeners.add(listener);
      connect();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) disconnect();
      };
    },
    onConnectionChange(listener) {
      connectionListeners.add(listener);
      return () => {
        connectionListeners.delete(listener);
      };
    },
  };
}
