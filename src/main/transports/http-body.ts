/**
 * Reading a request body with a size limit, for the HTTP transports.
 * (http-ws.ts has a private copy of the same logic; it can import this one.)
 */
import type { IncomingMessage } from 'node:http';

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
