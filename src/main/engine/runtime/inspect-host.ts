/**
 * The worker side of a threaded InspectSession: one in-thread session, requests served one at a
 * time in arrival order, results sent back without copying where onnxruntime lets its buffers go.
 */
import type { MessagePort } from 'node:worker_threads';
import { EngineError } from '../types';
import type { WireError } from './decoder-protocol';
import type { InspectWorkerReply, InspectWorkerRequest } from './inspect-protocol';
import { openInspectSessionInThread, type InspectSession } from './inspect-session';

function toWire(error: unknown): WireError {
  if (error instanceof EngineError) return { kind: error.kind, message: error.message };
  return { kind: null, message: error instanceof Error ? error.message : String(error) };
}

/** The buffer behind `view`: its own when the view spans it, else a copy of the view's bytes. */
function ownBuffer(view: ArrayBufferView): ArrayBuffer {
  const buffer = view.buffer;
  if (buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === buffer.byteLength) return buffer;
  return new Uint8Array(buffer, view.byteOffset, view.byteLength).slice().buffer;
}

function buffersOf(reply: InspectWorkerReply): ArrayBuffer[] {
  if (!reply.ok) return [];
  const forward = reply.forward ? [...reply.forward.attentions, ...reply.forward.hidden] : [];
  const readout = reply.readout ? Object.values(reply.readout) : [];
  return [...forward, ...readout];
}

/** Serves inspect requests arriving on `port` until a 'release' request. */
export function serveInspect(port: MessagePort): void {
  let session: InspectSession | undefined;
  let queue = Promise.resolve();
  const open = (): InspectSession => {
    if (!session) throw new EngineError('internal', 'inspect worker: no session is open');
    return session;
  };
  const send = (reply: InspectWorkerReply): void => {
    try {
      port.postMessage(reply, buffersOf(reply));
    } catch {
      // A buffer onnxruntime cannot give away (external backing store) is copied instead.
      port.postMessage(reply);
    }
  };

  const handle = async (request: InspectWorkerRequest): Promise<void> => {
    switch (request.type) {
      case 'open':
        session = await openInspectSessionInThread(request.paths, request.config, request.device);
        return send({ call: request.call, ok: true, device: session.device });
      case 'forward': {
        const out = await open().forward(request.ids);
        return send({ call: request.call, ok: true, forward: { attentions: out.attentions.map(ownBuffer), hidden: out.hidden.map(ownBuffer) } });
      }
      case 'readout': {
        const out = await open().readout(new Float32Array(request.hidden), request.targets, request.k);
        const readout = { topIds: ownBuffer(out.topIds), topLogprobs: ownBuffer(out.topLogprobs), targetLogprobs: ownBuffer(out.targetLogprobs), entropy: ownBuffer(out.entropy) };
        return send({ call: request.call, ok: true, readout });
      }
      case 'release':
        await session?.release();
        return send({ call: request.call, ok: true });
    }
  };

  port.on('message', (request: InspectWorkerRequest) => {
    queue = queue.then(() => handle(request).catch((error: unknown) => send({ call: request.call, ok: false, error: toWire(error) })));
  });
}
