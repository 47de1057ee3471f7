/**
 * Parses and validates a Hugging Face GPT-2 config.json into a Gpt2Config,
 * refusing settings that change the math Inkwell implements.
 */
import { readFile } from 'node:fs/promises';
import type { Gpt2Config } from '../types';
import { EngineError } from '../types';

/** GPT-2's <|endoftext|>, the default bos/eos when config.json names none. */
const GPT2_END_OF_TEXT_ID = 50256;

/** Activations equal to GPT-2's tanh-approximated GELU. */
const GPT2_ACTIVATIONS = new Set(['gelu_new', 'gelu_pytorch_tanh']);

/** Reads a UTF-8 text file, turning a missing or unreadable file into an EngineError naming it. */
export async function readTextFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new EngineError(missing ? 'not_found' : 'bad_input', `${file}: ${missing ? 'missing' : `cannot be read (${(error as Error).message})`}`, { cause: error });
  }
}

/** Reads a JSON file, turning a missing file or a syntax error into an EngineError naming it. */
export async function readJsonFile(file: string): Promise<unknown> {
  const text = await readTextFile(file);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new EngineError('bad_input', `${file}: malformed JSON (${(error as Error).message})`, { cause: error });
  }
}

/** Reads `file` (a config.json) and validates it as a GPT-2 configuration. */
export async function readGpt2Config(file: string): Promise<Gpt2Config> {
  return parseGpt2Config(await readJsonFile(file), file);
}

/** Validates parsed config.json contents; `file` names the source in errors. */
export function parseGpt2Config(json: unknown, file: string): Gpt2Config {
  const bad = (problem: string) => new EngineError('bad_input', `${file}: ${problem}`);
  const refused = (problem: string) => new EngineError('refused', `${file}: ${problem}`);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('is not a JSON object');
  const c = json as Record<string, unknown>;

  if (c.model_type !== 'gpt2') {
    throw refused(`model_type is ${JSON.stringify(c.model_type)}; Inkwell runs only GPT-2 checkpoints (model_type "gpt2")`);
  }

  const positiveInt = (field: string, value: unknown): number => {
    if (value === undefined || value === null) throw bad(`${field} is missing`);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      throw bad(`${field} must be a positive integer, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  const nLayer = positiveInt('n_layer', c.n_layer);
  const nEmbd = positiveInt('n_embd', c.n_embd);
  const nHead = positiveInt('n_head', c.n_head);
  const vocabSize = positiveInt('vocab_size', c.vocab_size);
  // Early GPT-2 configs carry the context length as n_ctx only.
  const nPositions = positiveInt(c.n_positions === undefined ? 'n_ctx' : 'n_positions', c.n_positions ?? c.n_ctx);
  if (nEmbd % nHead !== 0) throw bad(`n_embd ${nEmbd} is not divisible by n_head ${nHead}`);

  let layerNormEpsilon = 1e-5;
  if (c.layer_norm_epsilon !== undefined) {
    const eps = c.layer_norm_epsilon;
    if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0 || eps >= 1) {
      throw bad(`layer_norm_epsilon must be a small positive number, got ${JSON.stringify(eps)}`);
    }
    layerNormEpsilon = eps;
  }

  const tokenId = (field: string): number => {
    const value = c[field];
    if (value === undefined || value === null) return Math.min(GPT2_END_OF_TEXT_ID, vocabSize - 1);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value >= vocabSize) {
      throw bad(`${field} must be an integer in [0, ${vocabSize}), got ${JSON.stringify(value)}`);
    }
    return value;
  };
  const bosTokenId = tokenId('bos_token_id');
  const eosTokenId = tokenId('eos_token_id');

  if (c.n_inner !== undefined && c.n_inner !== null && c.n_inner !== 4 * nEmbd) {
    throw refused(`n_inner ${JSON.stringify(c.n_inner)} differs from 4 * n_embd (${4 * nEmbd}); only the standard GPT-2 MLP width is supported`);
  }
  if (c.activation_function !== undefined && !GPT2_ACTIVATIONS.has(String(c.activation_function))) {
    throw refused(`activation_function ${JSON.stringify(c.activation_function)} is not supported (GPT-2 uses "gelu_new")`);
  }
  if (c.scale_attn_weights === false) throw refused('scale_attn_weights false is not supported');
  if (c.scale_attn_by_inverse_layer_idx === true) throw refused('scale_attn_by_inverse_layer_idx true is not supported');
  if (c.add_cross_attention === true) throw refused('add_cross_attention true (encoder-decoder GPT-2) is not supported');

  return { modelType: 'gpt2', nLayer, nEmbd, nHead, nPositions, vocabSize, layerNormEpsilon, bosTokenId, eosTokenId };
}
