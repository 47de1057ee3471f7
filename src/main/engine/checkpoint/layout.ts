/**
 * The tensor layout of a Hugging Face GPT2LMHeadModel: canonical names (no
 * `transformer.` prefix) and shapes, with Conv1D weights stored [in, out].
 */

/** The hyper-parameters that determine tensor shapes. */
export interface Gpt2Dimensions {
  readonly nLayer: number;
  readonly nEmbd: number;
  readonly nPositions: number;
  readonly vocabSize: number;
}

/** Canonical name → shape of every weight a GPT-2 checkpoint must hold (lm_head.weight excluded: it is optional). */
export function gpt2TensorShapes(dims: Gpt2Dimensions): Map<string, number[]> {
  const d = dims.nEmbd;
  const shapes = new Map<string, number[]>([['wte.weight', [dims.vocabSize, d]], ['wpe.weight', [dims.nPositions, d]]]);
  for (let i = 0; i < dims.nLayer; i++) {
    const p = `h.${i}.`;
    shapes.set(`${p}ln_1.weight`, [d]).set(`${p}ln_1.bias`, [d]);
    shapes.set(`${p}attn.c_attn.weight`, [d, 3 * d]).set(`${p}attn.c_attn.bias`, [3 * d]);
    shapes.set(`${p}attn.c_proj.weight`, [d, d]).set(`${p}attn.c_proj.bias`, [d]);
    shapes.set(`${p}ln_2.weight`, [d]).set(`${p}ln_2.bias`, [d]);
    shapes.set(`${p}mlp.c_fc.weight`, [d, 4 * d]).set(`${p}mlp.c_fc.bias`, [4 * d]);
    shapes.set(`${p}mlp.c_proj.weight`, [4 * d, d]).set(`${p}mlp.c_proj.bias`, [d]);
  }
  shapes.set('ln_f.weight', [d]).set('ln_f.bias', [d]);
  return shapes;
}

/** The untied output projection's name and shape. */
export const LM_HEAD = 'lm_head.weight';

/** Key prefix GPT2LMHeadModel.state_dict() puts on the transformer's weights. */
export const TRANSFORMER_PREFIX = 'transformer.';

/** Attention-mask buffers older checkpoints store; they are constants, not weights. */
export const IGNORED_BUFFER = /^h\.\d+\.attn\.(bias|masked_bias)$/;
