/**
 * Reading a request body with a size limit, and reading it as JSON, for the HTTP transports
 * (serve mode's API and the OpenAI-compatible routes): strict UTF-8, and nesting checked before
 * parsing (issue 6 §3.6).
 */
import type { IncomingMessage } from 'node:http';
import { LIMITS } from '../../shared/api';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A JSON body, or why it is not one (a message to send back as a 400). */
export type JsonBody = { ok: true; value: unknown } | { ok: false; problem: string };

/**
 * Parses `body` as JSON: the bytes must be UTF-8 (a lenient decode would store U+FFFD in place of
 * whatever the client meant) and nest at most `maxDepth` levels, checked before parsing, since
 * JSON.parse of a 10 MB `[[[…]]]` blocked the event loop for ~1.8 s.
 */
export function parseJsonBody(body: Buffer, maxDepth: number = LIMITS.maxJsonDepth): JsonBody {
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    return { ok: false, problem: 'the request body is not valid UTF-8' };
  }
  if (nestsDeeperThan(text, maxDepth)) return { ok: false, problem: `the request body nests deeper than ${maxDepth} levels` };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, problem: `the request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** Whether JSON `text` opens more than `limit` arrays/objects inside each other (strings are skipped). */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c /* \ */) i += 1;
      else if (char === 0x22 /* " */) inString = false;
    } else if (char === 0x22) {
      inString = true;
    } else if (char === 0x5b /* [ */ || char === 0x7b /* { */) {
      depth += 1;
      if (depth > limit) return true;
    } else if (char === 0x5d /* ] */ || char === 0x7d /* } */) {
      depth -= 1;
    }
  }
  return false;
}

/**
 * Reads the body up to `limit` bytes. Past it the rest is drained (up to four
 * times the limit, so that the client can read a polite 413) and the result is
 * 'too_large'; past four times the limit, or when the declared length already
 * is, the connection is dropped.
 */
export function readRequestBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too_large'> {
  return new Promise((resolveBody, rejectBody) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit * 4) {
      req.destroy();
      resolveBody('too_large');
      return;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    req.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit * 4) req.destroy();
      else if (total <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolveBody(total > limit ? 'too_large' : Buffer.concat(chunks)));
    req.on('error', rejectBody);
    req.on('close', () => {
      if (total > limit) resolveBody('too_large');
      else if (!req.complete) rejectBody(new Error('the client closed the connection before sending the whole body'));
    });
  });
}
