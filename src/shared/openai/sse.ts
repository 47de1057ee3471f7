/**
 * Server-sent events as OpenAI-compatible servers stream them: writing
 * (`data: <json>\n\n`, ending in `data: [DONE]`) and an incremental parser
 * that follows the WHATWG "event stream interpretation" rules
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
 * any of CRLF / LF / CR ends a line, even when a CRLF is split between two
 * chunks; `:` lines are comments (keep-alives); a blank line dispatches the
 * event; multi-line `data` is joined with LF; a leading BOM is dropped.
 *
 * Pure TypeScript: no Electron, Node or DOM imports.
 */

/** The sentinel OpenAI streams end with. */
export const SSE_DONE = '[DONE]';

/** One `data:` event carrying `value` as JSON. */
export function sseData(value: unknown): string {
  return `data: ${JSON.stringify(value)}\n\n`;
}

/** The closing `data: [DONE]` event. */
export function sseDone(): string {
  return `data: ${SSE_DONE}\n\n`;
}

/** A comment line: ignored by clients, keeps proxies and idle timers from closing the connection. */
export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

/** One dispatched event. */
export interface SseEvent {
  /** The `event:` field; "message" when the stream sets none. */
  event: string;
  data: string;
  /** The last `id:` seen, if any. */
  id?: string;
}

/** Thrown when one event grows past the parser's limit (a hostile or broken server). */
export class SseEventTooLargeError extends Error {
  constructor(readonly limitChars: number) {
    super(`an event in the stream is longer than ${limitChars} characters`);
    this.name = 'SseEventTooLargeError';
  }
}

/** Turns decoded text chunks, split anywhere, into events. */
export class SseParser {
  readonly #maxEventChars: number;
  #line = '';
  #data: string[] = [];
  #dataChars = 0;
  #event = '';
  #id: string | undefined;
  #sawCr = false;
  #started = false;

  /** `maxEventChars` bounds one event's data (and any single line). */
  constructor(maxEventChars = 8 * 1024 * 1024) {
    this.#maxEventChars = maxEventChars;
  }

  /** True while part of a line or an undispatched event is held (the stream ended mid-event if it closes now). */
  get pending(): boolean {
    return this.#line.length > 0 || this.#data.length > 0;
  }

  /** Feeds the next chunk of text; returns the events it completed. */
  push(chunk: string): SseEvent[] {
    let text = chunk;
    if (!this.#started && text.length > 0) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const events: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x0a && this.#sawCr && i === start && this.#line.length === 0) {
        // The LF of a CRLF whose CR ended the previous chunk (or line).
        this.#sawCr = false;
        start = i + 1;
        continue;
      }
      this.#sawCr = false;
      if (c !== 0x0a && c !== 0x0d) continue;
      this.#line += text.slice(start, i);
      this.#takeLine(events);
      if (c === 0x0d) {
        if (text.charCodeAt(i + 1) === 0x0a) i++;
        else this.#sawCr = true;
      }
      start = i + 1;
    }
    this.#line += text.slice(start);
    if (this.#line.length > this.#maxEventChars) throw new SseEventTooLargeError(this.#maxEventChars);
    return events;
  }

  /** Ends the stream: an incomplete trailing line is discarded, as the spec says. */
  end(): SseEvent[] {
    this.#line = '';
    this.#data = [];
    this.#dataChars = 0;
    return [];
  }

  #takeLine(events: SseEvent[]): void {
    const line = this.#line;
    this.#line = '';
    if (line.length === 0) {
      this.#dispatch(events);
      return;
    }
    if (line.charCodeAt(0) === 0x3a) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    switch (field) {
      case 'data':
        this.#dataChars += value.length + 1;
        if (this.#dataChars > this.#maxEventChars) throw new SseEventTooLargeError(this.#maxEventChars);
        this.#data.push(value);
        break;
      case 'event':
        this.#event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.#id = value;
        break;
      default:
        // `retry` and unknown fields change nothing for a client that does not reconnect.
        break;
    }
  }

  #dispatch(events: SseEvent[]): void {
    if (this.#data.length === 0) {
      this.#event = '';
      return;
    }
    const event: SseEvent = { event: this.#event || 'message', data: this.#data.join('\n') };
    if (this.#id !== undefined) event.id = this.#id;
    events.push(event);
    this.#data = [];
    this.#dataChars = 0;
    this.#event = '';
  }
}
