/**
 * One finished inspect pass, held so that a viewer can fetch what it shows one layer at a time:
 * attention as packed float16 triangles, the logit lens computed per layer on request (and kept),
 * and a coarse all-layers overview for a model view.
 */
import { widenToFloat32 } from '../onnx/weights';
import type { ForwardResult, ReadoutResult } from '../runtime/inspect-session';
import { EngineError, type Gpt2Config } from '../types';

/** How an attention payload is encoded. */
export type AttentionEncoding = 'f16-tril';

/** One layer's attention probabilities, compact: what a head view draws. */
export interface AttentionLayerPayload {
  readonly layer: number;
  readonly heads: number;
  readonly seqLen: number;
  /**
   * 'f16-tril': IEEE half-precision bit patterns of each head's causal lower triangle, row by row: the
   * weight of query i on key j ≤ i in head h is at h·S(S+1)/2 + i(i+1)/2 + j (above the diagonal it is 0).
   */
  readonly encoding: AttentionEncoding;
  readonly data: Uint16Array;
}

/** Every layer × head at low resolution: what a model view draws before one head is opened. */
export interface AttentionOverviewPayload {
  readonly layers: number;
  readonly heads: number;
  readonly seqLen: number;
  /** Cells per side (min(requested size, S)). */
  readonly size: number;
  /** First token of each of the `size` blocks (rows and columns use the same blocks). */
  readonly blockStarts: readonly number[];
  /**
   * uint8 [layers × heads × size × size]: cell (I, J) is the attention mass query block I puts on key
   * block J, averaged over I's rows, times 255 and rounded; each row of cells sums to about 255.
   */
  readonly data: Uint8Array;
}

/** The logit lens at one layer: the residual stream after that block read through ln_f and lm_head. */
export interface LensLayerPayload {
  readonly layer: number;
  readonly seqLen: number;
  readonly k: number;
  /** [S × k] token ids, most likely first, at every position. */
  readonly topIds: Int32Array;
  /** [S × k] their log-probabilities. */
  readonly topLogprobs: Float32Array;
  /** [S − 1]: at position p, the log-probability at this depth of the token that actually comes next (token p + 1). */
  readonly nextLogprobs: Float32Array;
  /** [S] entropy of each position's distribution, in nats. */
  readonly entropy: Float32Array;
}

/** Reads hidden rows through ln_f and lm_head (InspectSession.readout). */
export type Readout = (hidden: Float32Array, targets: readonly number[], k: number) => Promise<ReadoutResult>;

/** Bytes an inspect pass over `seqLen` tokens holds: float16 attention triangles plus float32 residual streams. */
export function inspectionBytes(config: Gpt2Config, seqLen: number): number {
  const triangle = (seqLen * (seqLen + 1)) / 2;
  return config.nLayer * (config.nHead * triangle * 2 + seqLen * config.nEmbd * 4);
}

/** The log-probability readout of the token after each position (targets: ids shifted by one; the last row has none). */
export function nextTokenTargets(ids: readonly number[]): number[] {
  return ids.map((_, i) => ids[i + 1] ?? 0);
}

/** A finished inspect pass over `tokenIds`. */
export class Inspection {
  readonly #lens = new Map<string, Promise<LensLayerPayload>>();
  #overview: { size: number; payload: AttentionOverviewPayload } | undefined;

  constructor(
    readonly tokenIds: readonly number[],
    readonly config: Gpt2Config,
    private readonly forward: ForwardResult,
    /** The final layer read out with k = the next-token view's top-k. */
    readonly final: ReadoutResult,
    private readonly readout: Readout,
  ) {}

  /** Sequence length. */
  get seqLen(): number {
    return this.tokenIds.length;
  }

  /** Bytes held by this pass (attentions, residual streams, cached lens layers). */
  get bytes(): number {
    return inspectionBytes(this.config, this.seqLen);
  }

  #checkLayer(layer: number): void {
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.config.nLayer) {
      throw new EngineError('bad_input', `layer ${layer} does not exist: the model has layers 0..${this.config.nLayer - 1}`);
    }
  }

  /** Layer `layer`'s attention of every head, packed float16. */
  attentionLayer(layer: number): AttentionLayerPayload {
    this.#checkLayer(layer);
    return { layer, heads: this.config.nHead, seqLen: this.seqLen, encoding: 'f16-tril', data: this.forward.attentions[layer] as Uint16Array };
  }

  /** Layer `layer`'s attention of every head as float32 rows: [head][query i] → weights of keys 0..i. */
  attentionRows(layer: number): Float32Array[][] {
    const { data, heads, seqLen } = this.attentionLayer(layer);
    const values = decodeHalfBits(data);
    const triangle = (seqLen * (seqLen + 1)) / 2;
    return Array.from({ length: heads }, (_, h) =>
      Array.from({ length: seqLen }, (_, i) => values.subarray(h * triangle + (i * (i + 1)) / 2, h * triangle + ((i + 1) * (i + 2)) / 2)));
  }

  /** The logit lens after block `layer` with the `k` most likely tokens per position (computed once per (layer, k)). */
  lensLayer(layer: number, k: number): Promise<LensLayerPayload> {
    this.#checkLayer(layer);
    const key = `${layer}:${k}`;
    let pending = this.#lens.get(key);
    if (!pending) {
      pending = this.#readLens(layer, k);
      this.#lens.set(key, pending);
      pending.catch(() => this.#lens.delete(key));
    }
    return pending;
  }

  async #readLens(layer: number, k: number): Promise<LensLayerPayload> {
    const out = await this.readout(this.forward.hidden[layer] as Float32Array, nextTokenTargets(this.tokenIds), k);
    return {
      layer,
      seqLen: this.seqLen,
      k,
      topIds: out.topIds,
      topLogprobs: out.topLogprobs,
      nextLogprobs: out.targetLogprobs.slice(0, this.seqLen - 1),
      entropy: out.entropy,
    };
  }

  /** Every layer × head pooled to at most `size` × `size` cells (computed once per size). */
  attentionOverview(size: number): AttentionOverviewPayload {
    if (!Number.isInteger(size) || size < 1) throw new EngineError('bad_input', `overview size ${size} must be a positive integer`);
    const cells = Math.min(size, this.seqLen);
    if (this.#overview?.size === cells) return this.#overview.payload;
    const { nLayer: layers, nHead: heads } = this.config;
    const S = this.seqLen;
    const blockStarts = Array.from({ length: cells }, (_, b) => Math.floor((b * S) / cells));
    const blockOf = new Int32Array(S);
    const blockRows = new Float64Array(cells);
    for (let b = 0; b < cells; b++) {
      const end = b + 1 < cells ? (blockStarts[b + 1] as number) : S;
      blockOf.fill(b, blockStarts[b] as number, end);
      blockRows[b] = end - (blockStarts[b] as number);
    }
    const data = new Uint8Array(layers * heads * cells * cells);
    const sums = new Float64Array(cells * cells);
    const triangle = (S * (S + 1)) / 2;
    const table = halfTable();
    for (let l = 0; l < layers; l++) {
      const bits = this.forward.attentions[l] as Uint16Array;
      for (let h = 0; h < heads; h++) {
        sums.fill(0);
        let at = h * triangle;
        for (let i = 0; i < S; i++) {
          const row = (blockOf[i] as number) * cells;
          // Runs along the row one key block at a time, summing in a local.
          let block = 0;
          let blockEnd = cells > 1 ? (blockStarts[1] as number) : S;
          let acc = 0;
          for (let j = 0; j <= i; j++) {
            if (j === blockEnd) {
              sums[row + block] = (sums[row + block] as number) + acc;
              acc = 0;
              block++;
              blockEnd = block + 1 < cells ? (blockStarts[block + 1] as number) : S;
            }
            acc += table[bits[at++] as number] as number;
          }
          sums[row + block] = (sums[row + block] as number) + acc;
        }
        const base = (l * heads + h) * cells * cells;
        for (let c = 0; c < cells * cells; c++) {
          data[base + c] = Math.min(255, Math.round((255 * (sums[c] as number)) / (blockRows[Math.floor(c / cells)] as number)));
        }
      }
    }
    const payload: AttentionOverviewPayload = { layers, heads, seqLen: S, size: cells, blockStarts, data };
    this.#overview = { size: cells, payload };
    return payload;
  }
}

let halfValues: Float32Array | undefined;

/** Every float16 bit pattern's value, built once. */
function halfTable(): Float32Array {
  halfValues ??= decodeHalfBits(Uint16Array.from({ length: 65536 }, (_, bits) => bits));
  return halfValues;
}

/** float16 bit patterns → float32 values (exact). */
export function decodeHalfBits(bits: Uint16Array): Float32Array {
  return widenToFloat32(new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength), 'F16');
}
