/**
 * The SSE writer and parser. The parser is checked against the official
 * openai client's own decoder (an independent implementation) on the same
 * stream cut at every possible place, and on the WHATWG rules the openai
 * decoder does not exercise (CR line endings, CRLF split across chunks, BOM,
 * multi-line data, the size limit).
 */
import { Stream } from 'openai/streaming';
import { describe, expect, it } from 'vitest';
import { SseEventTooLargeError, SseParser, sseComment, sseData, sseDone, type SseEvent } from '../../../src/shared/openai/sse';

/** What the parser makes of `chunks` fed one after the other. */
function parse(chunks: string[], parser = new SseParser()): SseEvent[] {
  return [...chunks.flatMap((c) => parser.push(c)), ...parser.end()];
}

/** The JSON values the openai client reads from `text` (it stops at [DONE]). */
async function officialDecode(chunks: string[]): Promise<unknown[]> {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
  const out: unknown[] = [];
  for await (const item of Stream.fromSSEResponse(new Response(body), new AbortController())) out.push(item);
  return out;
}

const recorded =
  ': keep-alive\n\n' +
  sseData({ choices: [{ index: 0, text: ' Caf\u00e9', finish_reason: null }] }) +
  ': ping - 2024-06-01 12:00:00.000000\n\n' +
  sseData({ choices: [{ index: 1, text: ' 👋 "quoted"\\n', finish_reason: null }] }) +
  '\n\n' +
  sseData({ choices: [{ index: 0, text: '', finish_reason: 'length' }], usage: { prompt_tokens: 3 } }) +
  sseDone();

describe('SseParser', () => {
  it('gives the same events as the openai client for a stream cut at every position', async () => {
    const expected = await officialDecode([recorded]);
    expect(expected).toHaveLength(3);
    const fromParser = (events: SseEvent[]) => events.filter((e) => e.data !== '[DONE]').map((e) => JSON.parse(e.data) as unknown);
    expect(fromParser(parse([recorded]))).toEqual(expected);
    for (let cut = 1; cut < recorded.length; cut++) {
      const pieces = [recorded.slice(0, cut), recorded.slice(cut)];
      expect(fromParser(parse(pieces)), `cut at ${cut}`).toEqual(expected);
    }
    expect(fromParser(parse([...recorded]))).toEqual(expected);
  });

  it('ends lines at CRLF, LF or CR, also when a CRLF is split between chunks', () => {
    const crlf = 'data: a\r\n\r\ndata: b\r\n\r\n';
    for (let cut = 0; cut <= crlf.length; cut++) {
      expect(parse([crlf.slice(0, cut), crlf.slice(cut)]).map((e) => e.data), `cut at ${cut}`).toEqual(['a', 'b']);
    }
    expect(parse(['data: a\r\rdata: b\r\r']).map((e) => e.data)).toEqual(['a', 'b']);
    // The LF of a split CRLF is not a blank line: the two data lines stay one event.
    const multiLine = 'data: a\r\ndata: b\r\n\r\n';
    for (let cut = 0; cut <= multiLine.length; cut++) {
      expect(parse([multiLine.slice(0, cut), multiLine.slice(cut)]).map((e) => e.data), `cut at ${cut}`).toEqual(['a\nb']);
    }
    // A lone CR ends a line; the LF after it is the blank line that dispatches only if it follows immediately.
    expect(parse(['data: a\r', '\n', '\n']).map((e) => e.data)).toEqual(['a']);
  });

  it('joins multi-line data with LF, reads event and id, drops a BOM and "data" without a space', () => {
    const events = parse(['\ufeffevent: error\nid: 7\ndata: {"a":\ndata:1}\n\n', 'data\n\n']);
    expect(events).toEqual([
      { event: 'error', id: '7', data: '{"a":\n1}' },
      { event: 'message', id: '7', data: '' },
    ]);
  });

  it('ignores comments and blank keep-alives, and discards an event the stream cut off', () => {
    const parser = new SseParser();
    expect(parser.push(': ping\n\n\n\n: another\n\ndata: {"cut"')).toEqual([]);
    expect(parser.pending).toBe(true);
    expect(parser.end()).toEqual([]);
  });

  it('refuses an event larger than its limit instead of holding it in memory', () => {
    const parser = new SseParser(100);
    expect(() => parser.push(`data: ${'x'.repeat(101)}`)).toThrow(SseEventTooLargeError);
    const lines = new SseParser(100);
    expect(() => lines.push(`${'data: xxxxxxxxxx\n'.repeat(12)}`)).toThrow(/longer than 100 characters/);
  });
});

describe('SSE writing', () => {
  it('writes one data line per event, comments that cannot break the framing, and [DONE]', () => {
    expect(sseData({ text: 'a\nb' })).toBe('data: {"text":"a\\nb"}\n\n');
    expect(sseComment('keep\nalive')).toBe(': keep alive\n\n');
    expect(sseDone()).toBe('data: [DONE]\n\n');
  });
});
