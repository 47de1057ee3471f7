/**
 * The memory read bandwidth a decode step can use, measured in the same run as the decode
 * figures it bounds: onnxruntime's ReduceSum over a 512 MiB float32 input with the bench's
 * thread count, best of several passes (a decode step reads its weights the same way: once,
 * streaming, on every core). The floor of a step is then its weight bytes ÷ this bandwidth.
 */
import { availableParallelism } from 'node:os';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { GraphBuilder } from '../src/main/engine/onnx/builder';

const BYTES = 512 * 1024 * 1024;
const PASSES = 12;
const ROWS = 1024;

/** Read bandwidth in GB/s (10^9 bytes per second): the best of PASSES timed passes after one untimed. */
export async function measureReadBandwidth(): Promise<number> {
  const values = BYTES / 4;
  const g = new GraphBuilder('inkwell_read_bandwidth');
  const x = g.input('x', 'float32', [ROWS, values / ROWS]);
  g.output(g.op('ReduceSum', [x], { keepdims: 0 }), 'sum', 'float32', []);
  const session = await InferenceSession.create(g.toModelProto(), { intraOpNumThreads: availableParallelism(), logSeverityLevel: 3 });
  try {
    // Non-zero pages: a buffer of zeros could be backed by one shared page.
    const data = new Float32Array(values).fill(1e-3);
    const feeds = { x: new Tensor('float32', data, [ROWS, values / ROWS]) };
    await session.run(feeds);
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < PASSES; i++) {
      const started = performance.now();
      await session.run(feeds);
      best = Math.min(best, performance.now() - started);
    }
    return BYTES / (best / 1000) / 1e9;
  } finally {
    await session.release();
  }
}
