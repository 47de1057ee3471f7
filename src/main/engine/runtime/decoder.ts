/**
 * DecoderSession: a GPT-2 model on one execution provider. Generation runs on the 'rows' graph
 * (batches of rows of different lengths, see row-batch.ts); the Optimum-layout decoder graph
 * (`step`, KV cache in and out) and the all-positions graph are opened on first use, so a session
 * that only generates holds the weights once.
 */
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { EngineError, type DeviceName, type DeviceReport, type DeviceRequest, type Gpt2Config } from '../types';
import { GraphBuilder } from '../onnx/builder';
import { LOGSUMEXP_OUTPUT, newKvName, paddedHeadSize, pastName, presentName } from '../onnx/gpt2';
import { AUTO_ORDER, describeDeviceError, EXECUTION_PROVIDER, probeDevices } from './devices';
import { OrtKvCache, type KvCache } from './kv-cache';
import { HostRowBatch, type DecoderBatch, type RowsRunInput, type RowsRunOutput } from './row-batch';

/** One decoder step for `batch` rows. */
export interface StepInput {
  batch: number;
  inputIds: readonly number[] /* batch*seqLen, row-major */;
  seqLen: number;
  attentionMask: readonly number[] /* batch*(past+seqLen) */;
  positionIds: readonly number[] /* batch*seqLen */;
  past: KvCache | null;
}

/** What a step returns. The caller owns `present` (and still owns the `past` it passed in). */
export interface StepOutput {
  logits: Float32Array /* batch*vocab, last position */;
  present: KvCache;
}

/** A loaded GPT-2 decoder on one device. */
export interface DecoderSession {
  readonly device: DeviceReport;
  readonly config: Gpt2Config;
  /** A new, empty batch of rows (continuous batching); dispose it when done. */
  createBatch(): DecoderBatch;
  /** One step of the Optimum-layout graph (every row the same length, padding by attention mask). */
  step(input: StepInput): Promise<StepOutput>;
  logitsAll(ids: readonly number[]): Promise<Float32Array> /* [seq*vocab] */;
  /** Asks a session that keeps its own heap (a worker thread) to collect it; a no-op where there is none. */
  collectGarbage?(): void;
  release(): Promise<void>;
}

/** Paths of the graphs written by buildGpt2Onnx. */
export interface DecoderPaths {
  decoderPath: string;
  fullLogitsPath: string;
  rowsPath: string;
}

/** The session options every Inkwell graph runs with on `device`. */
export function baseOptions(device: DeviceName): InferenceSession.SessionOptions {
  return {
    executionProviders: [EXECUTION_PROVIDER[device]],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: availableParallelism(),
    logSeverityLevel: 3,
  };
}

/** Key 0, value 0, key 1, … names of the cache inputs or outputs: the order the KvCache keeps its tensors in. */
function cacheNames(config: Gpt2Config, name: typeof pastName): string[] {
  return Array.from({ length: config.nLayer }, (_, l) => [name(l, 'key'), name(l, 'value')]).flat();
}

/**
 * Opens the Optimum-layout decoder graph on `device`. On a GPU the present.* outputs are asked to
 * stay in device memory ('gpu-buffer') so the KV cache never crosses the bus; if the binding
 * refuses that, the session is opened with host outputs instead.
 */
async function createDecoderSession(path: string, device: DeviceName, config: Gpt2Config): Promise<{ session: InferenceSession; kvOnDevice: boolean }> {
  const options = baseOptions(device);
  if (device !== 'cpu') {
    try {
      const preferredOutputLocation = Object.fromEntries(cacheNames(config, presentName).map((n) => [n, 'gpu-buffer' as const]));
      return { session: await InferenceSession.create(path, { ...options, preferredOutputLocation }), kvOnDevice: true };
    } catch {
      // Fall through to host-resident outputs; a real EP failure repeats below and is reported.
    }
  }
  return { session: await InferenceSession.create(path, options), kvOnDevice: false };
}

function int64Tensor(values: readonly number[], dims: readonly number[]): Tensor {
  return new Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
}

class OrtDecoderSession implements DecoderSession {
  private stepSession: Promise<{ session: InferenceSession; kvOnDevice: boolean }> | undefined;
  private fullSession: Promise<InferenceSession> | undefined;
  private gatherSession: Promise<InferenceSession> | undefined;
  private kvOnDevice = false;
  private released = false;
  private readonly headDim: number;
  /** Built once: every step feeds and reads all of them. */
  private readonly pastNames: readonly string[];
  private readonly presentNames: readonly string[];
  /** What a 'rows' run fetches: never present.*, which stay inside onnxruntime. */
  private readonly rowsFetches: readonly string[];

  constructor(
    private readonly rowsSession: InferenceSession,
    private readonly paths: DecoderPaths,
    readonly config: Gpt2Config,
    readonly device: DeviceReport,
  ) {
    this.headDim = config.nEmbd / config.nHead;
    this.pastNames = cacheNames(config, pastName);
    this.presentNames = cacheNames(config, presentName);
    this.rowsFetches = ['logits', LOGSUMEXP_OUTPUT, ...Array.from({ length: config.nLayer }, (_, l) => newKvName(l))];
  }

  createBatch(): DecoderBatch {
    if (this.released) throw new EngineError('internal', 'decoder session used after release()');
    const { nLayer, nHead, vocabSize, nPositions } = this.config;
    return new HostRowBatch({ nLayer, nHead, cacheHeadDim: paddedHeadSize(this.config), vocabSize, nPositions }, (input) => this.runRows(input));
  }

  /** One run of the 'rows' graph. */
  private async runRows(input: RowsRunInput): Promise<RowsRunOutput> {
    if (this.released) throw new EngineError('internal', 'decoder session used after release()');
    for (const p of input.positionIds) {
      if (!Number.isInteger(p) || p < 0 || p >= this.config.nPositions) {
        throw new EngineError('bad_input', `step: position ${p} is outside the context window (0..${this.config.nPositions - 1})`);
      }
    }
    this.checkIds(input.inputIds, 'step');
    const { batch, seqLen } = input;
    const feeds: Record<string, Tensor> = {
      input_ids: int64Tensor(input.inputIds, [batch, seqLen]),
      position_ids: int64Tensor(input.positionIds, [batch, seqLen]),
      seqlens_k: new Tensor('int32', Int32Array.from(input.seqlensK), [batch]),
      total_sequence_length: new Tensor('int32', Int32Array.of(input.totalLength), []),
      logits_count: int64Tensor([input.logitsCount], [1]),
    };
    this.pastNames.forEach((name, i) => (feeds[name] = input.past[i] as Tensor));
    const out = await this.rowsSession.run(feeds, this.rowsFetches as string[]);
    try {
      const read = async (name: string): Promise<Float32Array> => {
        const t = out[name];
        if (!t) throw new EngineError('internal', `${this.paths.rowsPath}: the rows graph returned no ${name}`);
        return t.location === 'cpu' ? (t.data as Float32Array) : ((await t.getData(true)) as Float32Array);
      };
      const newKv: Float32Array[] = [];
      for (let l = 0; l < this.config.nLayer; l++) newKv.push(await read(newKvName(l)));
      return { logits: await read('logits'), logSumExp: await read(LOGSUMEXP_OUTPUT), newKv };
    } catch (error) {
      for (const tensor of Object.values(out)) tensor.dispose();
      throw error;
    }
  }

  /** The Optimum-layout decoder, opened on first use. */
  private async optimumSession(): Promise<InferenceSession> {
    if (!this.stepSession) {
      this.stepSession = createDecoderSession(this.paths.decoderPath, this.device.used, this.config);
      this.stepSession.catch(() => (this.stepSession = undefined));
    }
    const opened = await this.stepSession;
    this.kvOnDevice = opened.kvOnDevice;
    return opened.session;
  }

  private emptyPast(batch: number): Tensor[] {
    const dims = [batch, this.config.nHead, 0, this.headDim];
    return Array.from({ length: 2 * this.config.nLayer }, () => new Tensor('float32', new Float32Array(0), dims));
  }

  private checkIds(ids: readonly number[], what: string): void {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
        throw new EngineError('bad_input', `${what}: token id ${id} is outside the vocabulary (0..${this.config.vocabSize - 1})`);
      }
    }
  }

  private feeds(inputIds: readonly number[], mask: readonly number[], positions: readonly number[], batch: number, seqLen: number, past: readonly Tensor[]): Record<string, Tensor> {
    const feeds: Record<string, Tensor> = {
      input_ids: int64Tensor(inputIds, [batch, seqLen]),
      attention_mask: int64Tensor(mask, [batch, mask.length / batch]),
      position_ids: int64Tensor(positions, [batch, seqLen]),
    };
    this.pastNames.forEach((name, i) => (feeds[name] = past[i] as Tensor));
    return feeds;
  }

  async step(input: StepInput): Promise<StepOutput> {
    if (this.released) throw new EngineError('internal', 'decoder session used after release()');
    const { batch, seqLen, inputIds, attentionMask, positionIds, past } = input;
    const pastLength = past?.length ?? 0;
    const total = pastLength + seqLen;
    if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(seqLen) || seqLen < 1) {
      throw new EngineError('internal', `step: batch ${batch} and seqLen ${seqLen} must be positive integers`);
    }
    if (inputIds.length !== batch * seqLen || positionIds.length !== batch * seqLen) {
      throw new EngineError('internal', `step: inputIds (${inputIds.length}) and positionIds (${positionIds.length}) must hold batch*seqLen = ${batch * seqLen} values`);
    }
    if (attentionMask.length !== batch * total) {
      throw new EngineError('internal', `step: attentionMask holds ${attentionMask.length} values, batch*(past+seqLen) = ${batch * total}`);
    }
    if (past !== null && past.batch !== batch) throw new EngineError('internal', `step: past cache has ${past.batch} rows, batch is ${batch}`);
    if (past !== null && !(past instanceof OrtKvCache)) throw new EngineError('internal', 'step: past must come from this runtime');
    for (const p of positionIds) {
      if (!Number.isInteger(p) || p < 0 || p >= this.config.nPositions) {
        throw new EngineError('bad_input', `step: position ${p} is outside the context window (0..${this.config.nPositions - 1})`);
      }
    }
    this.checkIds(inputIds, 'step');

    const session = await this.optimumSession();
    const pastTensors = past === null ? this.emptyPast(batch) : await past.tensors();
    const out = await session.run(this.feeds(inputIds, attentionMask, positionIds, batch, seqLen, pastTensors));
    try {
      const logits = out.logits;
      if (!logits) throw new EngineError('internal', `${this.paths.decoderPath}: decoder graph returned no logits`);
      const presents = this.presentNames.map((name) => {
        const t = out[name];
        if (!t) throw new EngineError('internal', `${this.paths.decoderPath}: decoder graph returned no ${name}`);
        return t;
      });
      const data = logits.location === 'cpu' ? (logits.data as Float32Array) : ((await logits.getData(true)) as Float32Array);
      return { logits: data, present: new OrtKvCache(presents, batch, total, (tensors, rows) => this.gatherOnDevice(tensors, rows)) };
    } catch (error) {
      // Nobody else holds these outputs: on a GPU the present tensors would stay in device memory.
      for (const tensor of Object.values(out)) tensor.dispose();
      throw error;
    }
  }

  /** Selects cache rows without leaving the device: one Gather per tensor in a tiny session on the same EP. */
  private async gatherOnDevice(tensors: readonly Tensor[], rows: readonly number[]): Promise<Tensor[]> {
    if (!this.gatherSession) {
      const g = new GraphBuilder('inkwell_kv_select');
      const rowsInput = g.input('rows', 'int64', ['rows']);
      const names: string[] = [];
      tensors.forEach((_, i) => {
        const x = g.input(`kv_${i}`, 'float32', [null, this.config.nHead, null, this.headDim]);
        g.output(g.op('Gather', [x, rowsInput], { axis: 0 }), `selected_${i}`, 'float32', ['rows', this.config.nHead, null, this.headDim]);
        names.push(`selected_${i}`);
      });
      const options = baseOptions(this.device.used);
      const preferredOutputLocation = this.kvOnDevice ? Object.fromEntries(names.map((n) => [n, 'gpu-buffer' as const])) : undefined;
      this.gatherSession = InferenceSession.create(g.toModelProto(), { ...options, ...(preferredOutputLocation ? { preferredOutputLocation } : {}) });
      // A failed creation is not kept: the next selection tries again (as the all-positions graph does).
      this.gatherSession.catch(() => (this.gatherSession = undefined));
    }
    const session = await this.gatherSession;
    const feeds: Record<string, Tensor> = { rows: int64Tensor(rows, [rows.length]) };
    tensors.forEach((t, i) => (feeds[`kv_${i}`] = t));
    const out = await session.run(feeds);
    return tensors.map((_, i) => out[`selected_${i}`] as Tensor);
  }

  async logitsAll(ids: readonly number[]): Promise<Float32Array> {
    if (this.released) throw new EngineError('internal', 'decoder session used after release()');
    if (ids.length === 0) throw new EngineError('bad_input', 'logitsAll: at least one token is needed');
    if (ids.length > this.config.nPositions) {
      throw new EngineError('bad_input', `logitsAll: ${ids.length} tokens exceed the context window of ${this.config.nPositions}`);
    }
    this.checkIds(ids, 'logitsAll');
    if (!this.fullSession) {
      const path = this.paths.fullLogitsPath;
      if (!existsSync(path)) throw new EngineError('not_found', `${path}: all-positions graph is missing`);
      this.fullSession = InferenceSession.create(path, baseOptions(this.device.used));
      this.fullSession.catch(() => (this.fullSession = undefined));
    }
    const session = await this.fullSession;
    const positions = ids.map((_, i) => i);
    const out = await session.run(this.feeds(ids, ids.map(() => 1), positions, 1, ids.length, this.emptyPast(1)));
    for (const name of this.presentNames) out[name]?.dispose();
    const logits = out.logits;
    if (!logits) throw new EngineError('internal', `${this.paths.fullLogitsPath}: all-positions graph returned no logits`);
    return logits.location === 'cpu' ? (logits.data as Float32Array) : ((await logits.getData(true)) as Float32Array);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const sessions = [this.rowsSession, this.stepSession?.then((s) => s.session), this.fullSession, this.gatherSession];
    await Promise.allSettled(sessions.map(async (s) => (await s)?.release()));
  }
}

/**
 * Opens the decoder on `device` on the calling thread. 'auto' takes the first available of
 * CUDA → WebGPU → CPU (by probe); a GPU that fails to open the graph falls back to CPU with the
 * reason in `device`.
 */
export async function openDecoderInThread(paths: DecoderPaths, config: Gpt2Config, device: DeviceRequest): Promise<DecoderSession> {
  for (const path of [paths.rowsPath, paths.decoderPath]) {
    if (!existsSync(path)) throw new EngineError('not_found', `${path}: decoder graph is missing`);
  }
  let target: DeviceName = device === 'auto' ? 'cpu' : device;
  if (device === 'auto') {
    const status = await probeDevices();
    target = AUTO_ORDER.find((d) => status.some((s) => s.name === d && s.available)) ?? 'cpu';
  }

  let fallbackReason: string | undefined;
  if (target !== 'cpu') {
    try {
      const session = await InferenceSession.create(paths.rowsPath, baseOptions(target));
      return new OrtDecoderSession(session, paths, config, { requested: device, used: target });
    } catch (err) {
      fallbackReason = `${target} failed, using cpu: ${describeDeviceError(target, err)}`;
    }
  }
  try {
    const session = await InferenceSession.create(paths.rowsPath, baseOptions('cpu'));
    const report: DeviceReport = fallbackReason === undefined ? { requested: device, used: 'cpu' } : { requested: device, used: 'cpu', fallbackReason };
    return new OrtDecoderSession(session, paths, config, report);
  } catch (err) {
    throw new EngineError('internal', `${paths.rowsPath}: onnxruntime could not load the decoder graph: ${(err as Error).message}`, { cause: err });
  }
}
