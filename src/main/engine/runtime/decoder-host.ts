/**
 * The worker side of a threaded decoder: one in-thread DecoderSession and the KV caches it made,
 * keyed by the ids the caller chose. Requests run one at a time in arrival order, so a select or
 * dispose posted before a step is applied before it.
 */
import type { MessagePort } from 'node:worker_threads';
import { EngineError } from '../types';
import { openDecoderInThread, type DecoderSession } from './decoder';
import type { DecoderReply, DecoderRequest, WireError } from './decoder-protocol';
import type { KvCache } from './kv-cache';
import type { DecoderBatch, RowLogits } from './row-batch';

function toWire(error: unknown): WireError {
  if (error instanceof EngineError) return { kind: error.kind, message: error.message };
  return { kind: null, message: error instanceof Error ? error.message : String(error) };
}

/** Logits as a transferable buffer: ORT's own buffer when the array spans it, else a copy. */
function logitsBuffer(logits: Float32Array): ArrayBuffer {
  const buffer = logits.buffer;
  if (buffer instanceof ArrayBuffer && logits.byteOffset === 0 && logits.byteLength === buffer.byteLength) return buffer;
  return logits.slice().buffer;
}

/** Serves decoder requests arriving on `port` until a 'release' request. */
export function serveDecoder(port: MessagePort): void {
  let session: DecoderSession | undefined;
  /** A failed select is remembered under its id and reported by the step that uses it. */
  const caches = new Map<number, KvCache | EngineError>();
  const batches = new Map<number, DecoderBatch>();
  let queue = Promise.resolve();

  const open = (): DecoderSession => {
    if (!session) throw new EngineError('internal', 'decoder worker: no decoder is open');
    return session;
  };
  const cache = (id: number): KvCache => {
    const found = caches.get(id);
    if (found === undefined) throw new EngineError('internal', 'KV cache used after dispose()');
    if (found instanceof EngineError) throw found;
    return found;
  };
  const batch = (id: number): DecoderBatch => {
    let found = batches.get(id);
    if (!found) {
      found = open().createBatch();
      batches.set(id, found);
    }
    return found;
  };
  const send = (reply: DecoderReply): void => {
    const buffers = reply.ok ? [reply.logits, reply.logSumExp].filter((b): b is ArrayBuffer => b !== undefined) : [];
    if (buffers.length === 0) return port.postMessage(reply);
    try {
      port.postMessage(reply, buffers);
    } catch {
      // A buffer onnxruntime cannot give away (external backing store) is copied instead.
      port.postMessage({ ...reply, logits: reply.ok ? reply.logits?.slice(0) : undefined, logSumExp: reply.ok ? reply.logSumExp?.slice(0) : undefined });
    }
  };
  const sendRows = (call: number, out: RowLogits, from: DecoderBatch): void =>
    send({ call, ok: true, logits: logitsBuffer(out.logits), logSumExp: logitsBuffer(out.logSumExp), kvBytes: from.kvBytes });

  const handle = async (request: DecoderRequest): Promise<void> => {
    switch (request.type) {
      case 'open':
        session = await openDecoderInThread(request.paths, request.config, request.device);
        return send({ call: request.call, ok: true, device: session.device });
      case 'step': {
        const past = request.pastId === null ? null : cache(request.pastId);
        const { pastId: _pastId, presentId, call, type: _type, ...input } = request;
        const out = await open().step({ ...input, past });
        caches.set(presentId, out.present);
        return send({ call, ok: true, logits: logitsBuffer(out.logits) });
      }
      case 'logitsAll':
        return send({ call: request.call, ok: true, logits: logitsBuffer(await open().logitsAll(request.ids)) });
      case 'batchPrefill': {
        const target = batch(request.batchId);
        return sendRows(request.call, (await target.prefill(request.tokens, request.copies)).out, target);
      }
      case 'batchDecode': {
        const target = batch(request.batchId);
        return sendRows(request.call, await target.decode(request.rows, request.tokens), target);
      }
      case 'batchExtend': {
        const target = batch(request.batchId);
        return sendRows(request.call, await target.extend(request.row, request.tokens), target);
      }
      case 'batchTruncate':
        return batch(request.batchId).truncate(request.row, request.length);
      case 'batchRemove':
        return batch(request.batchId).remove(request.rows);
      case 'batchDispose':
        batches.get(request.batchId)?.dispose();
        batches.delete(request.batchId);
        return;
      case 'select': {
        let selected: KvCache | EngineError;
        try {
          selected = cache(request.fromId).select(request.rows);
        } catch (error) {
          selected = error instanceof EngineError ? error : new EngineError('internal', toWire(error).message, { cause: error });
        }
        caches.set(request.toId, selected);
        return;
      }
      case 'dispose': {
        const found = caches.get(request.id);
        caches.delete(request.id);
        if (found !== undefined && !(found instanceof EngineError)) found.dispose();
        return;
      }
      case 'collect':
        // onnxruntime-node hands every step's KV cache back as new ArrayBuffers, freed only when the
        // worker's heap is collected; an idle worker may not collect for minutes (issue 6 §3.1).
        (globalThis as { gc?: () => void }).gc?.();
        return;
      case 'release':
        for (const c of caches.values()) if (!(c instanceof EngineError)) c.dispose();
        caches.clear();
        for (const b of batches.values()) b.dispose();
        batches.clear();
        await session?.release();
        return send({ call: request.call, ok: true });
    }
  };

  port.on('message', (request: DecoderRequest) => {
    queue = queue.then(() =>
      handle(request).catch((error: unknown) => {
        if ('call' in request) send({ call: request.call, ok: false, error: toWire(error) });
      }),
    );
  });
}
