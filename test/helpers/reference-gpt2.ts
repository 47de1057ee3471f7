/**
 * An independent GPT-2 forward pass in plain loops and float64, straight from
 * config.json and model.safetensors: the yardstick for every numeric engine test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsAsFloat64, type Float64Tensor } from './checkpoint-factory';

/** A GPT-2 checkpoint held as float64 arrays. */
export interface ReferenceGpt2 {
  readonly nLayer: number;
  readonly nEmbd: number;
  readonly nHead: number;
  readonly vocabSize: number;
  readonly eps: number;
  readonly tensors: ReadonlyMap<string, Float64Tensor>;
}

/** Loads config.json and model.safetensors of `dir` (any of F32/F16/BF16, prefixed or not). */
export function loadReferenceGpt2(dir: string): ReferenceGpt2 {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, number>;
  const need = (key: string): number => {
    const v = config[key];
    if (typeof v !== 'number') throw new Error(`${dir}/config.json: ${key} missing`);
    return v;
  };
  return {
    nLayer: need('n_layer'),
    nEmbd: need('n_embd'),
    nHead: need('n_head'),
    vocabSize: need('vocab_size'),
    eps: config.layer_norm_epsilon ?? 1e-5,
    tensors: readSafetensorsAsFloat64(join(dir, 'model.safetensors')),
  };
}

function tensor(model: ReferenceGpt2, name: string): Float64Array {
  const t = model.tensors.get(name);
  if (!t) throw new Error(`reference: tensor ${name} missing`);
  return t.data;
}

function layerNorm(x: Float64Array, gamma: Float64Array, beta: Float64Array, eps: number): Float64Array {
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i]!;
  mean /= n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (x[i]! - mean) ** 2;
  variance /= n;
  const inv = 1 / Math.sqrt(variance + eps);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (x[i]! - mean) * inv * gamma[i]! + beta[i]!;
  return out;
}

/** x[in] · W[in, out] + b[out] (GPT-2 Conv1D layout). */
function conv1d(x: Float64Array, w: Float64Array, b: Float64Array, inDim: number, outDim: number): Float64Array {
  const out = new Float64Array(outDim);
  for (let o = 0; o < outDim; o++) out[o] = b[o]!;
  for (let i = 0; i < inDim; i++) {
    const xi = x[i]!;
    const row = i * outDim;
    for (let o = 0; o < outDim; o++) out[o]! += xi * w[row + o]!;
  }
  return out;
}

/** GPT-2's gelu_new: 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³))). */
function geluNew(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

/** Everything the float64 forward pass computes for one sequence. */
export interface ReferenceForward {
  /** attentions[layer][head][i][j]: softmax weights of query i over key j (0 for j > i). */
  readonly attentions: Float64Array[][][];
  /** hidden[l][position]: the residual stream; 0 = embeddings, l = after block l (nLayer: what ln_f reads). */
  readonly hidden: Float64Array[][];
  /** Vocabulary-sized logits at every position. */
  readonly logits: Float64Array[];
}

/**
 * The forward pass of one unpadded sequence `ids` with positions `positionIds` (default 0, 1, …):
 * causal attention, no cache, every intermediate the inspector shows kept.
 */
export function referenceForward(model: ReferenceGpt2, ids: readonly number[], positionIds?: readonly number[]): ReferenceForward {
  const { nLayer, nEmbd: d, nHead, eps } = model;
  const hd = d / nHead;
  const S = ids.length;
  const wte = tensor(model, 'wte.weight');
  const wpe = tensor(model, 'wpe.weight');
  let hidden: Float64Array[] = ids.map((id, s) => {
    const pos = positionIds?.[s] ?? s;
    const h = new Float64Array(d);
    for (let i = 0; i < d; i++) h[i] = wte[id * d + i]! + wpe[pos * d + i]!;
    return h;
  });
  const hiddens: Float64Array[][] = [hidden];
  const attentions: Float64Array[][][] = [];

  for (let l = 0; l < nLayer; l++) {
    const p = `h.${l}.`;
    const t = (n: string): Float64Array => tensor(model, p + n);
    const qkv = hidden.map((h) => conv1d(layerNorm(h, t('ln_1.weight'), t('ln_1.bias'), eps), t('attn.c_attn.weight'), t('attn.c_attn.bias'), d, 3 * d));
    const attn = hidden.map(() => new Float64Array(d));
    const layerProbs: Float64Array[][] = [];
    for (let head = 0; head < nHead; head++) {
      const headProbs: Float64Array[] = [];
      for (let i = 0; i < S; i++) {
        const scores: number[] = [];
        for (let j = 0; j <= i; j++) {
          let dot = 0;
          for (let k = 0; k < hd; k++) dot += qkv[i]![head * hd + k]! * qkv[j]![d + head * hd + k]!;
          scores.push(dot / Math.sqrt(hd));
        }
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const sum = exps.reduce((a, b) => a + b, 0);
        const row = new Float64Array(S);
        for (let j = 0; j <= i; j++) {
          const pj = exps[j]! / sum;
          row[j] = pj;
          for (let k = 0; k < hd; k++) attn[i]![head * hd + k]! += pj * qkv[j]![2 * d + head * hd + k]!;
        }
        headProbs.push(row);
      }
      layerProbs.push(headProbs);
    }
    attentions.push(layerProbs);
    hidden = hidden.map((h, s) => {
      const proj = conv1d(attn[s]!, t('attn.c_proj.weight'), t('attn.c_proj.bias'), d, d);
      const r = new Float64Array(d);
      for (let i = 0; i < d; i++) r[i] = h[i]! + proj[i]!;
      const fc = conv1d(layerNorm(r, t('ln_2.weight'), t('ln_2.bias'), eps), t('mlp.c_fc.weight'), t('mlp.c_fc.bias'), d, 4 * d);
      for (let i = 0; i < fc.length; i++) fc[i] = geluNew(fc[i]!);
      const mlp = conv1d(fc, t('mlp.c_proj.weight'), t('mlp.c_proj.bias'), 4 * d, d);
      for (let i = 0; i < d; i++) r[i]! += mlp[i]!;
      return r;
    });
    hiddens.push(hidden);
  }
  return { attentions, hidden: hiddens, logits: hidden.map((h) => referenceReadout(model, h)) };
}

/** Logits of one residual-stream vector read through ln_f and lm_head (the logit lens at any layer). */
export function referenceReadout(model: ReferenceGpt2, h: Float64Array): Float64Array {
  const { nEmbd: d, vocabSize, eps } = model;
  const head = model.tensors.has('lm_head.weight') ? tensor(model, 'lm_head.weight') : tensor(model, 'wte.weight');
  const x = layerNorm(h, tensor(model, 'ln_f.weight'), tensor(model, 'ln_f.bias'), eps);
  const logits = new Float64Array(vocabSize);
  for (let v = 0; v < vocabSize; v++) {
    let acc = 0;
    const row = v * d;
    for (let i = 0; i < d; i++) acc += x[i]! * head[row + i]!;
    logits[v] = acc;
  }
  return logits;
}

/** log softmax of `logits` in float64. */
export function referenceLogSoftmax(logits: Float64Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const logZ = max + Math.log(sum);
  return logits.map((v) => v - logZ);
}

/**
 * Logits (vocabSize each) at every position of one unpadded sequence `ids`, with
 * positions `positionIds` (default 0, 1, …). Causal attention, no cache.
 */
export function referenceLogits(model: ReferenceGpt2, ids: readonly number[], positionIds?: readonly number[]): Float64Array[] {
  return referenceForward(model, ids, positionIds).logits;
}
