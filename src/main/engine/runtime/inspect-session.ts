/**
 * InspectSession: the inspect pass's two graphs (onnx/inspect-graphs.ts) on one execution provider,
 * on the calling thread (threaded-inspect-session.ts runs it in a worker). Opened only when someone
 * inspects, so decoding never loads or waits for them.
 */
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { INSPECT_OUTPUTS } from '../onnx/inspect-graphs';
import { EngineError, type DeviceName, type DeviceReport, type DeviceRequest, type Gpt2Config } from '../types';
import { baseOptions } from './decoder';
import { AUTO_ORDER, describeDeviceError, probeDevices } from './devices';

/** The two graph files of the inspect pass. */
export interface InspectPaths {
  readonly forwardPath: string;
  readonly readoutPath: string;
}

/** Everything the forward graph writes for one sequence of S tokens. */
export interface ForwardResult {
  /** Per layer: float16 bits [heads × S(S+1)/2], each head's lower triangle row by row. */
  readonly attentions: Uint16Array[];
  /** Per layer: the residual stream after that block, float32 [S × d]. */
  readonly hidden: Float32Array[];
}

/** Rows read through ln_f and lm_head. */
export interface ReadoutResult {
  /** [rows × k] token ids, most likely first. */
  readonly topIds: Int32Array;
  /** [rows × k] their log-probabilities. */
  readonly topLogprobs: Float32Array;
  /** [rows] log-probability of each row's target id. */
  readonly targetLogprobs: Float32Array;
  /** [rows] entropy of each row's distribution, in nats. */
  readonly entropy: Float32Array;
}

/** The loaded inspect graphs of one model on one device. */
export interface InspectSession {
  readonly device: DeviceReport;
  /** Runs the forward graph over `ids` (positions 0 … S-1). */
  forward(ids: readonly number[]): Promise<ForwardResult>;
  /** Reads `hidden` [rows × d] through ln_f and lm_head: top `k`, each row's target log-probability, entropy. */
  readout(hidden: Float32Array, targets: readonly number[], k: number): Promise<ReadoutResult>;
  release(): Promise<void>;
}

/**
 * Rows per readout run: its [rows × vocab] logits, log-probabilities and products are the largest
 * buffers of the pass (GPT-2: 51 MB each at 256 rows), so a 1024-token text is read in four runs.
 */
const READOUT_ROWS = 256;

function int64(values: readonly number[], dims: readonly number[]): Tensor {
  return new Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
}

class OrtInspectSession implements InspectSession {
  private released = false;

  constructor(
    private readonly forwardSession: InferenceSession,
    private readonly readoutSession: InferenceSession,
    private readonly config: Gpt2Config,
    readonly device: DeviceReport,
  ) {}

  private checkOpen(): void {
    if (this.released) throw new EngineError('internal', 'inspect session used after release()');
  }

  async forward(ids: readonly number[]): Promise<ForwardResult> {
    this.checkOpen();
    const { nLayer, nPositions, vocabSize } = this.config;
    if (ids.length === 0 || ids.length > nPositions) throw new EngineError('bad_input', `inspect: ${ids.length} tokens; 1 to ${nPositions} fit the context window`);
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new EngineError('bad_input', `inspect: token id ${id} is outside the vocabulary (0..${vocabSize - 1})`);
    }
    const out = await this.forwardSession.run({ input_ids: int64(ids, [1, ids.length]) });
    const read = <T>(name: string): T => {
      const t = out[name];
      if (!t) throw new EngineError('internal', `inspect graph returned no ${name}`);
      return t.data as T;
    };
    return {
      attentions: Array.from({ length: nLayer }, (_, l) => read<Uint16Array>(INSPECT_OUTPUTS.attention(l))),
      hidden: Array.from({ length: nLayer }, (_, l) => read<Float32Array>(INSPECT_OUTPUTS.hidden(l))),
    };
  }

  async readout(hidden: Float32Array, targets: readonly number[], k: number): Promise<ReadoutResult> {
    this.checkOpen();
    const d = this.config.nEmbd;
    const rows = targets.length;
    if (hidden.length !== rows * d) throw new EngineError('internal', `readout: ${hidden.length} values for ${rows} rows of ${d}`);
    const result: ReadoutResult = {
      topIds: new Int32Array(rows * k),
      topLogprobs: new Float32Array(rows * k),
      targetLogprobs: new Float32Array(rows),
      entropy: new Float32Array(rows),
    };
    const kTensor = int64([k], [1]);
    for (let start = 0; start < rows; start += READOUT_ROWS) {
      const n = Math.min(READOUT_ROWS, rows - start);
      const out = await this.readoutSession.run({
        hidden: new Tensor('float32', hidden.slice(start * d, (start + n) * d), [n, d]),
        target_ids: int64(targets.slice(start, start + n), [n]),
        k: kTensor,
      });
      const ids = out.top_ids?.data as BigInt64Array | undefined;
      const values = out.top_logprobs?.data as Float32Array | undefined;
      const target = out.target_logprobs?.data as Float32Array | undefined;
      const entropy = out.entropy?.data as Float32Array | undefined;
      if (!ids || !values || !target || !entropy) throw new EngineError('internal', 'readout graph returned incomplete outputs');
      for (let i = 0; i < n * k; i++) result.topIds[start * k + i] = Number(ids[i]);
      result.topLogprobs.set(values, start * k);
      result.targetLogprobs.set(target, start);
      result.entropy.set(entropy, start);
    }
    return result;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await Promise.allSettled([this.forwardSession.release(), this.readoutSession.release()]);
  }
}

async function createOn(paths: InspectPaths, device: DeviceName): Promise<[InferenceSession, InferenceSession]> {
  const forward = await InferenceSession.create(paths.forwardPath, baseOptions(device));
  try {
    return [forward, await InferenceSession.create(paths.readoutPath, baseOptions(device))];
  } catch (error) {
    await forward.release();
    throw error;
  }
}

/**
 * Opens the inspect graphs on `device` on the calling thread ('auto': the first available of
 * CUDA → WebGPU → CPU); a GPU that is missing or cannot open them falls back to the CPU with the
 * reason in `device`.
 */
export async function openInspectSessionInThread(paths: InspectPaths, config: Gpt2Config, device: DeviceRequest): Promise<InspectSession> {
  const status = await probeDevices();
  let target: DeviceName = device === 'auto' ? (AUTO_ORDER.find((d) => status.some((s) => s.name === d && s.available)) ?? 'cpu') : device;
  let fallbackReason: string | undefined;
  const probed = status.find((s) => s.name === target);
  // A device the probe found missing is not tried: loading its provider would only fail again, noisily.
  if (target !== 'cpu' && probed && !probed.available) {
    fallbackReason = `${target} is not available, using cpu: ${probed.reason ?? 'the probe session failed'}`;
    target = 'cpu';
  }
  if (target !== 'cpu') {
    try {
      const [forward, readout] = await createOn(paths, target);
      return new OrtInspectSession(forward, readout, config, { requested: device, used: target });
    } catch (error) {
      fallbackReason = `${target} failed, using cpu: ${describeDeviceError(target, error)}`;
    }
  }
  try {
    const [forward, readout] = await createOn(paths, 'cpu');
    const report: DeviceReport = fallbackReason === undefined ? { requested: device, used: 'cpu' } : { requested: device, used: 'cpu', fallbackReason };
    return new OrtInspectSession(forward, readout, config, report);
  } catch (error) {
    throw new EngineError('internal', `${paths.forwardPath}: onnxruntime could not load the inspect graphs: ${(error as Error).message}`, { cause: error });
  }
}
