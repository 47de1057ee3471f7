/**
 * How much memory loading and running a model takes, estimated before it is
 * loaded, and how much the machine has free, so the API and UI can warn
 * instead of letting the inference process run out of memory.
 *
 * The model is fitted to the peak resident set sizes `npm run bench` measured
 * (docs/performance.md, 2026-11-26, fp32 CPU): after load 811 MiB (GPT-2) and
 * 3388 MiB (GPT-2 Large), after a 512-token prefill 1035 and 4002 MiB. The
 * estimate gives 811 / 3388 and 973 / 4018 MiB for those cases.
 */
import { readFileSync } from 'node:fs';
import { formatBytes } from '../../../shared/models';
import { freemem, totalmem } from 'node:os';
import { type ModelDimensions, type Precision, weightBytes } from '../models/footprint';

const MIB = 1024 * 1024;

/**
 * Node, onnxruntime, the tokenizer and the session's own buffers: 317 MiB plus 4% of the weights
 * (the two bench models' resident size after load, minus their weights).
 */
const RUNTIME_BASE_BYTES = 317 * MIB;
const RUNTIME_PER_WEIGHT_BYTE = 0.04;

/**
 * The KV cache is held about three times during a step: the past fed in, the present coming out,
 * and the JavaScript copy the binding returns (src/main/engine/runtime/kv-cache.ts).
 */
const KV_COPIES = 3;

/** onnxruntime's CPU arena grows in doublings, so the activations of a step may take twice their size. */
const ARENA_GROWTH = 2;

/** A memory estimate in bytes, by part. */
export interface MemoryEstimate {
  readonly weightsBytes: number;
  readonly kvCacheBytes: number;
  /** Activations of the largest step (the prefill) and onnxruntime's arena around them. */
  readonly workspaceBytes: number;
  /** Node, onnxruntime and the tokenizer. */
  readonly runtimeBytes: number;
  readonly totalBytes: number;
}

/** The work a model is estimated for. */
export interface MemoryWorkload {
  /** Sequences generated together (num_return_sequences). */
  readonly batch: number;
  /** Prompt plus new tokens, at most the context window. */
  readonly sequenceLength: number;
}

/** Estimates the memory of `precision` weights of `dims` running `workload` on the CPU. */
export function estimateMemory(dims: ModelDimensions, precision: Precision, workload: MemoryWorkload): MemoryEstimate {
  const batch = Math.max(1, Math.floor(workload.batch));
  const length = Math.max(1, Math.min(Math.floor(workload.sequenceLength), dims.nPositions));
  const d = dims.nEmbd;
  const weightsBytes = weightBytes(dims, precision);
  const kvElementBytes = precision === 'fp16' ? 2 : 4;
  const kvCacheBytes = KV_COPIES * 2 * dims.nLayer * batch * length * d * kvElementBytes;
  // Prefill of `length` tokens: attention scores of one layer, the MLP's 4d activations, a few
  // d-wide hidden states (residual, LayerNorm, Q/K/V), and the last position's logits.
  const activations = batch * (dims.nHead * length * length + length * 4 * d + 6 * length * d + dims.vocabSize) * 4;
  const workspaceBytes = ARENA_GROWTH * activations;
  const runtimeBytes = RUNTIME_BASE_BYTES + RUNTIME_PER_WEIGHT_BYTE * weightsBytes;
  return {
    weightsBytes,
    kvCacheBytes,
    workspaceBytes,
    runtimeBytes,
    totalBytes: Math.round(weightsBytes + kvCacheBytes + workspaceBytes + runtimeBytes),
  };
}

/** Memory the machine can give a new load, and where the figure comes from. */
export interface AvailableMemory {
  readonly availableBytes: number;
  readonly totalBytes: number;
  /** 'MemAvailable' (/proc/meminfo), 'cgroup' (a container's memory.max is lower) or 'os.freemem'. */
  readonly source: 'MemAvailable' | 'cgroup' | 'os.freemem';
}

/** Files the Linux figures are read from; tests point them elsewhere. */
export interface MemoryFiles {
  readonly meminfo: string;
  readonly cgroupMax: string;
  readonly cgroupCurrent: string;
}

const LINUX_FILES: MemoryFiles = {
  meminfo: '/proc/meminfo',
  cgroupMax: '/sys/fs/cgroup/memory.max',
  cgroupCurrent: '/sys/fs/cgroup/memory.current',
};

function readNumberFile(file: string): number | undefined {
  try {
    const text = readFileSync(file, 'utf8').trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What a new load can use: on Linux MemAvailable from /proc/meminfo (free memory plus the page cache
 * the kernel can drop, which os.freemem() does not count), lowered to the room left under a cgroup
 * v2 memory limit when the process runs in a container; elsewhere os.freemem().
 */
export function availableMemory(platform: NodeJS.Platform = process.platform, files: MemoryFiles = LINUX_FILES): AvailableMemory {
  const totalBytes = totalmem();
  if (platform !== 'linux') return { availableBytes: freemem(), totalBytes, source: 'os.freemem' };
  let meminfo: string;
  try {
    meminfo = readFileSync(files.meminfo, 'utf8');
  } catch {
    return { availableBytes: freemem(), totalBytes, source: 'os.freemem' };
  }
  const kib = /^MemAvailable:\s+(\d+)\s+kB$/m.exec(meminfo)?.[1];
  const memAvailable = kib === undefined ? freemem() : Number(kib) * 1024;
  const source = kib === undefined ? 'os.freemem' : 'MemAvailable';
  const limit = readNumberFile(files.cgroupMax);
  const used = readNumberFile(files.cgroupCurrent);
  if (limit !== undefined && used !== undefined && limit - used < memAvailable) {
    return { availableBytes: Math.max(0, limit - used), totalBytes: Math.min(totalBytes, limit), source: 'cgroup' };
  }
  return { availableBytes: memAvailable, totalBytes, source };
}

/** Whether an estimate fits the available memory, with the message a user sees when it does not. */
export interface MemoryVerdict {
  readonly fits: boolean;
  /** Bytes missing (0 when it fits). */
  readonly shortfallBytes: number;
  /** Set when it does not fit: what is needed, what is free, and the precisions that would fit. */
  readonly warning?: string;
}

function gib(bytes: number): string {
  return formatBytes(bytes);
}

/**
 * Compares the estimate of `precision` with `available` (which should already exclude models that
 * stay loaded) and names those of `alternatives` that would fit; the default suits the CPU, where
 * fp16 brings no gain (pass ['fp16', 'int8', 'int4'] for a GPU).
 */
export function checkMemory(
  dims: ModelDimensions, precision: Precision, workload: MemoryWorkload, available: AvailableMemory,
  alternatives: readonly Precision[] = ['int8', 'int4'],
): MemoryVerdict {
  const needed = estimateMemory(dims, precision, workload).totalBytes;
  if (needed <= available.availableBytes) return { fits: true, shortfallBytes: 0 };
  const smaller = alternatives
    .filter((p) => p !== precision && weightBytes(dims, p) < weightBytes(dims, precision))
    .map((p) => ({ p, bytes: estimateMemory(dims, p, workload).totalBytes }))
    .filter(({ bytes }) => bytes <= available.availableBytes);
  const hint = smaller.length > 0
    ? ` ${smaller.map(({ p, bytes }) => `${p} (${gib(bytes)})`).join(' or ')} would fit.`
    : ' Close other programs, unload other models, or use fewer sequences or a shorter text.';
  return {
    fits: false,
    shortfallBytes: needed - available.availableBytes,
    warning: `this model in ${precision} needs about ${gib(needed)} for ${workload.batch} × ${workload.sequenceLength} tokens, `
      + `and ${gib(available.availableBytes)} is available: loading it may fail or make the machine swap.${hint}`,
  };
}
