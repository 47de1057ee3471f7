/**
 * One HTTP request to a remote engine, over node:http / node:https rather
 * than fetch: fetch cannot tell a slow connect from a slow server, and the
 * three phases have their own limits here: connect (TCP + TLS), first byte
 * of the body (the server's queue and prefill), and idle time between two
 * pieces of a streamed body. Every failure is a RemoteEngineError that says
 * which phase failed; body text already received is delivered before it.
 */
import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { RemoteTimeouts } from '../../../shared/remote-engines';
import { RemoteEngineError } from './errors';

/** One request. */
export interface RemoteHttpRequest {
  url: URL;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  timeouts: RemoteTimeouts;
  signal?: AbortSignal | undefined;
  /** Opens the socket instead of node's agent (tests simulate a connect that never completes). */
  createConnection?: RequestOptions['createConnection'];
}

/** A response whose headers have arrived; the body is read once, with `text()` or `readAll()`. */
export interface RemoteHttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Decoded body pieces as they arrive; ends with a RemoteEngineError on a timeout, disconnect or abort. */
  text(): AsyncIterable<string>;
  /** The whole body, refused past `maxChars`. */
  readAll(maxChars: number): Promise<string>;
  /** Stops reading and drops the connection. */
  close(): void;
}

/** Starts the request; resolves when the status and headers arrive. */
export function openRemoteRequest(options: RemoteHttpRequest): Promise<RemoteHttpResponse> {
  const { url, timeouts, signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new RemoteEngineError('cancelled', 'the request was cancelled'));
      return;
    }
    const requestOptions: RequestOptions = {
      method: options.method,
      headers: options.body !== undefined ? { ...options.headers, 'Content-Length': String(Buffer.byteLength(options.body)) } : options.headers,
      ...(options.createConnection ? { createConnection: options.createConnection } : {}),
    };
    const req: ClientRequest = url.protocol === 'https:' ? httpsRequest(url, requestOptions) : httpRequest(url, requestOptions);
    const body = new PieceQueue();
    let responded = false;
    let failed = false;
    let timer: NodeJS.Timeout | undefined;

    const fail = (error: RemoteEngineError): void => {
      if (failed) return;
      failed = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      req.destroy();
      if (responded) body.fail(error);
      else reject(error);
    };
    const arm = (ms: number, error: () => RemoteEngineError): void => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(error()), ms);
    };
    const onAbort = (): void => fail(new RemoteEngineError('cancelled', 'the request was cancelled'));
    signal?.addEventListener('abort', onAbort, { once: true });
    arm(timeouts.connectMs, () => new RemoteEngineError('timeout', `no connection within ${seconds(timeouts.connectMs)} (connect timeout)`));

    req.on('socket', (socket: Duplex & { connecting?: boolean }) => {
      const connected = (): void => {
        if (!failed) arm(timeouts.firstByteMs, () => new RemoteEngineError('timeout', `the server sent nothing for ${seconds(timeouts.firstByteMs)} after the request (first-byte timeout)`));
      };
      if (socket.connecting) socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
      else connected();
    });

    req.on('response', (res: IncomingMessage) => {
      responded = true;
      const decoder = new TextDecoder('utf-8');
      let gotBody = false;
      res.on('data', (chunk: Buffer) => {
        if (failed) return;
        gotBody = true;
        arm(timeouts.idleMs, () => new RemoteEngineError('timeout', `the stream went silent for ${seconds(timeouts.idleMs)} (idle timeout)`));
        body.push(decoder.decode(chunk, { stream: true }));
      });
      res.on('end', () => {
        if (failed) return;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const rest = decoder.decode();
        if (rest) body.push(rest);
        body.end();
      });
      res.on('close', () => {
        if (!res.complete) fail(new RemoteEngineError('disconnected', gotBody ? 'the server closed the connection in the middle of the response' : 'the server closed the connection before sending a body'));
      });
      res.on('error', () => {
        // 'close' follows with res.complete false and reports it.
      });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        text: () => body,
        readAll: async (maxChars) => {
          let all = '';
          for await (const piece of body) {
            all += piece;
            if (all.length > maxChars) {
              fail(new RemoteEngineError('malformed', `the response is larger than ${maxChars} characters`));
              throw new RemoteEngineError('malformed', `the response is larger than ${maxChars} characters`);
            }
          }
          return all;
        },
        close: () => {
          if (failed) return;
          failed = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          req.destroy();
          body.end();
        },
      });
    });

    req.on('error', (error: NodeJS.ErrnoException) => fail(connectionError(error, responded)));
    req.end(options.body);
  });
}

/** Words for a socket error: what the user can check. */
function connectionError(error: NodeJS.ErrnoException, responded: boolean): RemoteEngineError {
  const code = error.code ?? '';
  if (responded || code === 'ECONNRESET' || code === 'EPIPE') {
    return new RemoteEngineError(responded ? 'disconnected' : 'unreachable', `the connection was reset (${code || error.message})`, { cause: error });
  }
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused: is the server running and listening on that port?',
    ENOTFOUND: 'host not found: check the address',
    EAI_AGAIN: 'host not found (DNS lookup failed): check the address and the network',
    EHOSTUNREACH: 'host unreachable: check the network',
    ENETUNREACH: 'network unreachable',
    ETIMEDOUT: 'the connection timed out',
  };
  const known = words[code];
  if (known) return new RemoteEngineError('unreachable', known, { cause: error });
  if (/CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY/i.test(code) || /certificate|TLS|SSL/i.test(error.message)) {
    return new RemoteEngineError('unreachable', `the TLS connection failed: ${error.message}`, { cause: error });
  }
  return new RemoteEngineError('unreachable', `could not connect: ${error.message}`, { cause: error });
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** Body pieces handed from node's stream events to one async reader; pieces received before a failure come first. */
class PieceQueue implements AsyncIterable<string> {
  #pieces: string[] = [];
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  #iterated = false;

  push(piece: string): void {
    this.#pieces.push(piece);
    this.#notify();
  }

  end(): void {
    this.#ended = true;
    this.#notify();
  }

  fail(error: Error): void {
    this.#error ??= error;
    this.#notify();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    if (this.#iterated) throw new Error('a response body can be read once');
    this.#iterated = true;
    for (;;) {
      const piece = this.#pieces.shift();
      if (piece !== undefined) {
        yield piece;
        continue;
      }
      if (this.#error) throw this.#error;
      if (this.#ended) return;
      await new Promise<void>((wake) => (this.#wake = wake));
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
