/**
 * Writes the Hugging Face GPT-2 tokenizer files (tokenizer.json,
 * tokenizer_config.json, vocab.json, merges.txt) from a byte-level BPE
 * vocabulary and merge list. Shared by import (which synthesizes tokenizer.json
 * when a checkpoint ships only vocab.json + merges.txt, so that
 * @huggingface/transformers can load the stored folder) and the test factory.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, readTextFile } from './config';

/** GPT-2's end-of-text token. */
export const END_OF_TEXT = '<|endoftext|>';

/** A byte-level BPE vocabulary (token string → id) and its ranked merges ("a b"). */
export interface BpeTables {
  readonly vocab: Readonly<Record<string, number>>;
  readonly merges: readonly string[];
}

/** GPT-2's byte ↔ unicode table (bytes_to_unicode in openai/gpt-2 encoder.py), inverted: char → byte. */
export function byteLevelUnicodeToByte(): Map<string, number> {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const map = new Map<string, number>();
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    if (printable(b)) map.set(String.fromCharCode(b), b);
    else map.set(String.fromCharCode(256 + shifted++), b);
  }
  return map;
}

/** Parses merges.txt text: drops the `#version` header and blank lines. */
export function parseMergesText(text: string): string[] {
  const lines = text.split(/\r?\n/);
  const merges: string[] = [];
  for (const [i, line] of lines.entries()) {
    if (line === '' || (i === 0 && line.startsWith('#version'))) continue;
    merges.push(line);
  }
  return merges;
}

/** The standard GPT-2 fast-tokenizer JSON (as `GPT2TokenizerFast.save_pretrained` writes it). */
export function gpt2TokenizerJson(tables: BpeTables, eosToken = END_OF_TEXT): object {
  const eosId = tables.vocab[eosToken];
  const addedTokens = eosId === undefined ? [] : [{
    id: eosId, content: eosToken, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true,
  }];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: tables.vocab,
      merges: tables.merges,
    },
  };
}

/** tokenizer_config.json for a GPT-2 tokenizer with context length `modelMaxLength`. */
export function gpt2TokenizerConfig(modelMaxLength: number, eosToken = END_OF_TEXT): object {
  return {
    tokenizer_class: 'GPT2Tokenizer',
    bos_token: eosToken,
    eos_token: eosToken,
    unk_token: eosToken,
    model_max_length: modelMaxLength,
    add_prefix_space: false,
    // Decoding must be lossless: generated text is streamed and concatenated.
    clean_up_tokenization_spaces: false,
  };
}

/** Writes tokenizer.json into `dir`. */
export function writeTokenizerJson(dir: string, tables: BpeTables, eosToken = END_OF_TEXT): void {
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(gpt2TokenizerJson(tables, eosToken)));
}

/** Writes tokenizer_config.json into `dir`. */
export function writeTokenizerConfig(dir: string, modelMaxLength: number, eosToken = END_OF_TEXT): void {
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(gpt2TokenizerConfig(modelMaxLength, eosToken), null, 2));
}

/** Writes vocab.json and merges.txt (the slow-tokenizer files) into `dir`. */
export function writeVocabAndMerges(dir: string, tables: BpeTables): void {
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(tables.vocab));
  writeFileSync(join(dir, 'merges.txt'), `#version: 0.2\n${tables.merges.join('\n')}\n`);
}

/** Reads vocab.json + merges.txt from `dir` (no validation beyond JSON parsing; errors name the file). */
export async function readVocabAndMerges(dir: string): Promise<BpeTables> {
  const vocab = (await readJsonFile(join(dir, 'vocab.json'))) as Record<string, number>;
  const merges = parseMergesText(await readTextFile(join(dir, 'merges.txt')));
  return { vocab, merges };
}
