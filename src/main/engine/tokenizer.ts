/**
 * GPT-2 byte-level BPE tokenizer built from a model folder's own files with
 * @huggingface/transformers (tokenizer.json, or vocab.json + merges.txt),
 * entirely offline: the JSON is handed to the tokenizer class directly, so no
 * hub lookup or global `env` setting is involved.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile } from './checkpoint/config';
import { byteLevelUnicodeToByte, END_OF_TEXT, gpt2TokenizerConfig, gpt2TokenizerJson, readVocabAndMerges } from './checkpoint/tokenizer-files';
import { EngineError } from './types';

/** A GPT-2 tokenizer; decoding is lossless (no clean-up of spaces). */
export interface Gpt2Tokenizer {
  /** Token ids of `text` (no special tokens added; a literal "<|endoftext|>" becomes the special token, as in Hugging Face). */
  encode(text: string): number[];
  /** The text of `ids` (special tokens kept); malformed UTF-8 across ids becomes U+FFFD. */
  decode(ids: readonly number[]): string;
  /** Display form of each token, decoded alone (e.g. "Ġworld" → " world"). */
  tokenStrings(ids: readonly number[]): string[];
  /** The raw bytes of one byte-level BPE token. */
  tokenBytes(id: number): Uint8Array;
  readonly eosTokenId: number;
  /** Number of ids the tokenizer knows (highest id + 1). */
  readonly vocabSize: number;
}

const UNICODE_TO_BYTE = byteLevelUnicodeToByte();
const utf8 = new TextEncoder();

/** Bytes of a vocabulary string; tokens outside the byte alphabet (added tokens) are their UTF-8. */
function vocabStringToBytes(token: string): Uint8Array {
  const bytes: number[] = [];
  for (const ch of token) {
    const b = UNICODE_TO_BYTE.get(ch);
    if (b === undefined) return utf8.encode(token);
    bytes.push(b);
  }
  return Uint8Array.from(bytes);
}

/** Loads the tokenizer stored in `modelDir` (a checkpoint or a stored model folder). */
export async function loadTokenizer(modelDir: string): Promise<Gpt2Tokenizer> {
  const tokenizerJsonFile = join(modelDir, 'tokenizer.json');
  const configFile = join(modelDir, 'tokenizer_config.json');
  let tokenizerJson: unknown;
  if (existsSync(tokenizerJsonFile)) {
    tokenizerJson = await readJsonFile(tokenizerJsonFile);
  } else if (existsSync(join(modelDir, 'vocab.json')) && existsSync(join(modelDir, 'merges.txt'))) {
    tokenizerJson = gpt2TokenizerJson(await readVocabAndMerges(modelDir));
  } else {
    throw new EngineError('not_found', `${modelDir}: no tokenizer: expected tokenizer.json, or vocab.json + merges.txt`);
  }
  const tokenizerConfig = existsSync(configFile)
    ? (await readJsonFile(configFile)) as Record<string, unknown>
    : gpt2TokenizerConfig(1024) as Record<string, unknown>;
  const modelConfig = existsSync(join(modelDir, 'config.json'))
    ? (await readJsonFile(join(modelDir, 'config.json'))) as { eos_token_id?: unknown }
    : {};

  const { PreTrainedTokenizer } = await import('@huggingface/transformers');
  let tokenizer: InstanceType<typeof PreTrainedTokenizer>;
  try {
    tokenizer = new PreTrainedTokenizer(tokenizerJson as object, tokenizerConfig);
  } catch (error) {
    throw new EngineError('bad_input', `${tokenizerJsonFile}: cannot build the tokenizer (${(error as Error).message})`, { cause: error });
  }

  const idToToken: string[] = [];
  for (const [token, id] of tokenizer.get_vocab() as Map<string, number>) idToToken[id] = token;
  const vocabSize = idToToken.length;
  const eosFromConfig = modelConfig.eos_token_id;
  const eosTokenId = typeof eosFromConfig === 'number' && Number.isSafeInteger(eosFromConfig)
    ? eosFromConfig
    : (tokenizer.eos_token_id ?? tokenizer.convert_tokens_to_ids(END_OF_TEXT) ?? vocabSize - 1);

  const byteCache = new Map<number, Uint8Array>();
  const checkIds = (ids: readonly number[]) => {
    for (const id of ids) {
      if (!Number.isSafeInteger(id) || id < 0 || id >= vocabSize || idToToken[id] === undefined) {
        throw new EngineError('bad_input', `token id ${id} is not in the tokenizer's vocabulary (0..${vocabSize - 1})`);
      }
    }
  };
  const decode = (ids: readonly number[]): string => {
    if (ids.length === 0) return '';
    checkIds(ids);
    return tokenizer.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  };

  return {
    eosTokenId,
    vocabSize,
    encode: (text) => tokenizer.encode(text, { add_special_tokens: false }),
    decode,
    tokenStrings: (ids) => ids.map((id) => decode([id])),
    tokenBytes(id) {
      checkIds([id]);
      let bytes = byteCache.get(id);
      if (!bytes) {
        bytes = vocabStringToBytes(idToToken[id] ?? '');
        byteCache.set(id, bytes);
      }
      return bytes;
    },
  };
}
