/**
 * A stand-in for a remote engine on 127.0.0.1: replays the recorded answers
 * of vLLM or llama.cpp's server (test/fixtures/remote/) and delivers them as
 * a test asks — whole, byte by byte, with CRLF line ends, with keep-alive
 * comments, stalling, dropping the connection or never answering — and
 * records every request it got.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';

/** Which server's recordings to replay. */
export type StandinFlavour = 'vllm' | 'llama.cpp';

/** How the body of an answer is sent. */
export type Delivery =
  | { kind: 'whole' }
  /** Every byte its own write, a macrotask apart (splits lines, CRLFs and UTF-8 characters). */
  | { kind: 'bytewise' }
  /** LF line ends rewritten to CRLF. */
  | { kind: 'crlf' }
  /** A `: ping` comment and a blank keep-alive line before each event, `gapMs` apart. */
  | { kind: 'keepalive'; gapMs: number }
  /** `events` events, then a silence of `silentMs` (keep-alive comments every `pingMs` if set), then the rest. */
  | { kind: 'pause'; events: number; silentMs: number; pingMs?: number }
  /** `events` events, then the socket is destroyed. */
  | { kind: 'drop'; events: number }
  /** `events` events, then the body ends cleanly without the rest. */
  | { kind: 'truncate'; events: number }
  /** Headers are never sent. */
  | { kind: 'hang' };

/** One answer. */
export interface StandinAnswer {
  status?: number;
  headers?: Record<string, string>;
  /** A file of the flavour's recordings. */
  fixture?: string;
  /** Or a literal body. */
  body?: string;
  delivery?: Delivery;
}

/** A request the stand-in received. */
export interface StandinRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown> | null;
}

const fixtureDir = join(import.meta.dirname, '..', 'fixtures', 'remote');

/** Reads one recording. */
export function readRecording(flavour: StandinFlavour, name: string): string {
  return readFileSync(join(fixtureDir, flavour, name), 'utf8');
}

/** A running stand-in. */
export class RemoteStandin {
  readonly flavour: StandinFlavour;
  readonly requests: StandinRequest[] = [];
  /** Requests whose connection closed before the answer was complete. */
  abandoned = 0;
  /** Answers for the next completions requests, in order; after them, the flavour's default recording. */
  readonly completions: (StandinAnswer | ((body: Record<string, unknown>) => StandinAnswer))[] = [];
  /** Answers for the next model-list requests. */
  readonly models: StandinAnswer[] = [];
  /** The answer to `GET /info` (TGI's), when set; else 404 as vLLM and llama.cpp answer. */
  info: StandinAnswer | null = null;
  readonly #server: Server;
  readonly #apiKey: string | undefined;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #origin = '';

  private constructor(flavour: StandinFlavour, apiKey: string | undefined) {
    this.flavour = flavour;
    this.#apiKey = apiKey;
    this.#server = createServer((req, res) => void this.#answer(req, res));
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  /** Starts a stand-in; with `apiKey`, requests without it get the flavour's recorded 401. */
  static async start(flavour: StandinFlavour, options: { apiKey?: string } = {}): Promise<RemoteStandin> {
    const standin = new RemoteStandin(flavour, options.apiKey);
    await new Promise<void>((resolve) => standin.#server.listen(0, '127.0.0.1', resolve));
    standin.#origin = `http://127.0.0.1:${(standin.#server.address() as AddressInfo).port}`;
    return standin;
  }

  /** `http://127.0.0.1:PORT`. */
  get origin(): string {
    return this.#origin;
  }

  /** Completion requests received, bodies only. */
  get completionBodies(): Record<string, unknown>[] {
    return this.requests.filter((r) => r.path === '/v1/completions').map((r) => r.body ?? {});
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : null;
    const path = (req.url ?? '/').split('?')[0] as string;
    this.requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body });
    res.on('close', () => {
      if (!res.writableFinished) this.abandoned++;
    });

    if (this.#apiKey !== undefined && req.headers.authorization !== `Bearer ${this.#apiKey}`) {
      return this.#send(res, { status: 401, fixture: 'error-401.json' });
    }
    if (path === '/v1/models' && req.method === 'GET') return this.#send(res, this.models.shift() ?? { fixture: 'models.json' });
    if (path === '/v1/completions' && req.method === 'POST') {
      const next = this.completions.shift();
      const answer = typeof next === 'function' ? next(body ?? {}) : (next ?? this.#defaultCompletion(body ?? {}));
      return this.#send(res, answer);
    }
    if (path === '/info' && this.info) return this.#send(res, this.info);
    // vLLM and llama.cpp both answer unknown routes with a plain 404 (FastAPI's `{"detail":"Not Found"}` for vLLM).
    return this.#send(res, { status: 404, body: this.flavour === 'vllm' ? '{"detail":"Not Found"}' : '{"error":{"code":404,"message":"File Not Found","type":"not_found_error"}}' });
  }

  #defaultCompletion(body: Record<string, unknown>): StandinAnswer {
    if (body.stream !== true) return { fixture: 'completions.json' };
    if (body.logprobs !== undefined) return { fixture: 'completions-stream-logprobs.sse' };
    if (this.flavour === 'vllm' && body.n === 2) return { fixture: 'completions-stream-n2.sse' };
    return { fixture: 'completions-stream.sse' };
  }

  async #send(res: ServerResponse, answer: StandinAnswer): Promise<void> {
    const delivery = answer.delivery ?? { kind: 'whole' };
    if (delivery.kind === 'hang') return;
    const raw = answer.body ?? readRecording(this.flavour, answer.fixture ?? 'completions.json');
    const isStream = answer.fixture?.endsWith('.sse') ?? false;
    const serverHeader = this.flavour === 'vllm' ? { server: 'uvicorn' } : { Server: 'llama.cpp' };
    const type = isStream ? (this.flavour === 'vllm' ? 'text/event-stream; charset=utf-8' : 'text/event-stream') : 'application/json';
    res.writeHead(answer.status ?? 200, { 'Content-Type': type, ...serverHeader, ...answer.headers });
    res.flushHeaders();
    const events = raw.split(/(?<=\n\n)/);
    const wait = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          resolve();
        }, ms);
        this.#timers.add(timer);
      });
    const write = (text: string) => {
      if (!res.destroyed) res.write(text);
    };
    switch (delivery.kind) {
      case 'whole':
        res.end(raw);
        return;
      case 'crlf':
        res.end(raw.replace(/\n/g, '\r\n'));
        return;
      case 'bytewise': {
        const bytes = Buffer.from(raw, 'utf8');
        for (let i = 0; i < bytes.length; i++) {
          if (res.destroyed) return;
          res.write(bytes.subarray(i, i + 1));
          await new Promise((resolve) => setImmediate(resolve));
        }
        res.end();
        return;
      }
      case 'keepalive':
        for (const event of events) {
          write(': ping - 2024-06-10 00:00:00\n\n\n');
          await wait(delivery.gapMs);
          write(event);
        }
        res.end();
        return;
      case 'pause': {
        for (const event of events.slice(0, delivery.events)) write(event);
        const until = Date.now() + delivery.silentMs;
        while (Date.now() < until) {
          await wait(Math.min(delivery.pingMs ?? delivery.silentMs, Math.max(1, until - Date.now())));
          if (delivery.pingMs !== undefined && Date.now() < until) write(': ping\n\n');
        }
        for (const event of events.slice(delivery.events)) write(event);
        if (!res.destroyed) res.end();
        return;
      }
      case 'drop':
        for (const event of events.slice(0, delivery.events)) write(event);
        await wait(20);
        res.socket?.destroy();
        return;
      case 'truncate':
        res.end(events.slice(0, delivery.events).join(''));
        return;
    }
  }
}
