/**
 * Parses and validates a Hugging Face GPT-2 config.json into a Gpt2Config,
 * refusing settings that change the math Inkwell implements.
 */
import type { Gpt2Config } from '../types';
import { EngineError } from '../types';
import { describeJsonError, describeValue, readRegularFile } from './files';

/** GPT-2's <|endoftext|>, the default bos/eos when config.json names none. */
const GPT2_END_OF_TEXT_ID = 50256;

/** Activations equal to GPT-2's tanh-approximated GELU. */
const GPT2_ACTIVATIONS = new Set(['gelu_new', 'gelu_pytorch_tanh']);

/** Size limit of a checkpoint's text files unless a smaller one is given (GPT-2's tokenizer.json is 1.4 MB). */
export const MAX_TEXT_FILE_BYTES = 64 * 1024 * 1024;

/** Size limit of config.json and other small settings files (GPT-2's is 665 bytes). */
export const MAX_SETTINGS_FILE_BYTES = 1024 * 1024;

/** Reads a regular UTF-8 text file of at most `maxBytes`; every failure is an EngineError naming the file. */
export async function readTextFile(file: string, maxBytes = MAX_TEXT_FILE_BYTES): Promise<string> {
  const bytes = await readRegularFile(file, maxBytes);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw new EngineError('bad_input', `${file}: not UTF-8 text`, { cause: error });
  }
}

/** Reads a JSON file; a missing file, a syntax error or a file too large is an EngineError that names it (never its contents). */
export async function readJsonFile(file: string, maxBytes = MAX_TEXT_FILE_BYTES): Promise<unknown> {
  const text = await readTextFile(file, maxBytes);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new EngineError('bad_input', `${file}: malformed JSON (${describeJsonError(error, text)})`, { cause: error });
  }
}

/** Reads `file` (a config.json) and validates it as a GPT-2 configuration. */
export async function readGpt2Config(file: string): Promise<Gpt2Config> {
  return parseGpt2Config(await readJsonFile(file, MAX_SETTINGS_FILE_BYTES), file);
}

/** Validates parsed config.json contents; `file` names the source in errors. */
export function parseGpt2Config(json: unknown, file: string): Gpt2Config {
  const bad = (problem: string) => new EngineError('bad_input', `${file}: ${problem}`);
  const refused = (problem: string) => new EngineError('refused', `${file}: ${problem}`);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('is not a JSON object');
  const c = json as Record<string, unknown>;

  if (c.model_type !== 'gpt2') {
    throw refused(`model_type is ${describeValue(c.model_type)}; Inkwell runs only GPT-2 checkpoints (model_type "gpt2")`);
  }

  const positiveInt = (field: string, value: unknown): number => {
    if (value === undefined || value === null) throw bad(`${field} is missing`);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      throw bad(`${field} must be a positive integer, got ${describeValue(value)}`);
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
      throw bad(`layer_norm_epsilon must be a small positive number, got ${describeValue(eps)}`);
    }
    layerNormEpsilon = eps;
  }

  const tokenId = (field: string): number => {
    const value = c[field];
    if (value === undefined || value === null) return Math.min(GPT2_END_OF_TEXT_ID, vocabSize - 1);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value >= vocabSize) {
      throw bad(`${field} must be an integer in [0, ${vocabSize}), got ${describeValue(value)}`);
    }
    return value;
  };
  const bosTokenId = tokenId('bos_token_id');
  const eosTokenId = tokenId('eos_token_id');

  if (c.n_inner !== undefined && c.n_inner !== null && c.n_inner !== 4 * nEmbd) {
    throw refused(`n_inner ${describeValue(c.n_inner)} differs from 4 * n_embd (${4 * nEmbd}); only the standard GPT-2 MLP width is supported`);
  }
  if (c.activation_function !== undefined && !GPT2_ACTIVATIONS.has(String(c.activation_function))) {
    throw refused(`activation_function ${describeValue(c.activation_function)} is not supported (GPT-2 uses "gelu_new")`);
  }
  if (c.scale_attn_weights === false) throw refused('scale_attn_weights false is not supported');
  if (c.scale_attn_by_inverse_layer_idx === true) throw refused('scale_attn_by_inverse_layer_idx true is not supported');
  if (c.add_cross_attention === true) throw refused('add_cross_attention true (encoder-decoder GPT-2) is not supported');

  return { modelType: 'gpt2', nLayer, nEmbd, nHead, nPositions, vocabSize, layerNormEpsilon, bosTokenId, eosTokenId };
}
