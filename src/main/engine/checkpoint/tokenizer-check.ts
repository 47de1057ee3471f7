/**
 * Validates GPT-2 byte-level BPE tables before a model is imported: a
 * vocabulary of unique non-negative ids that covers the 256 byte symbols, and
 * merges that each join two vocabulary tokens into a third one, as Hugging Face
 * tokenizers' BPE builder requires (MergeTokenOutOfVocabulary in
 * huggingface/tokenizers tokenizers/src/models/bpe/model.rs). transformers.js
 * checks none of this: malformed merges used to import and then split
 * "Hello world" into 11 tokens. Messages name positions, never the tokens.
 */
import { EngineError } from '../types';
import { describeValue } from './files';
import { byteLevelUnicodeToByte } from './tokenizer-files';

const BYTE_SYMBOLS = [...byteLevelUnicodeToByte().keys()];

function bad(file: string, problem: string): EngineError {
  return new EngineError('bad_input', `${file}: ${problem}`);
}

/** Checks a token → id vocabulary (vocab.json, or tokenizer.json's model.vocab); returns it as a map. */
export function checkBpeVocab(vocab: unknown, file: string): Map<string, number> {
  if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) throw bad(file, 'the vocabulary is not a JSON object of token → id');
  const byToken = new Map<string, number>();
  const ids = new Set<number>();
  let position = 0;
  for (const [token, id] of Object.entries(vocab as Record<string, unknown>)) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
      throw bad(file, `vocabulary entry ${position} has id ${describeValue(id)}, not a non-negative integer`);
    }
    if (ids.has(id)) throw bad(file, `vocabulary entry ${position} reuses id ${id}: every token needs its own id`);
    ids.add(id);
    byToken.set(token, id);
    position++;
  }
  if (byToken.size === 0) throw bad(file, 'the vocabulary is empty');
  const missing = BYTE_SYMBOLS.filter((symbol) => !byToken.has(symbol)).length;
  if (missing > 0) {
    throw bad(file, `the vocabulary lacks ${missing} of the 256 byte symbols of GPT-2's byte-level BPE; not a GPT-2 tokenizer`);
  }
  return byToken;
}

/** The highest id of a checked vocabulary. */
export function maxVocabularyId(vocab: ReadonlyMap<string, number>): number {
  let max = -1;
  for (const id of vocab.values()) if (id > max) max = id;
  return max;
}

/** Why a merge's two parts cannot be used, or undefined when they can. */
function mergeProblem(left: string, right: string, vocab: ReadonlyMap<string, number>): string | undefined {
  if (left === '' || right === '') return 'has an empty token';
  if (!vocab.has(left) || !vocab.has(right)) return 'names a token that is not in the vocabulary';
  if (!vocab.has(left + right)) return 'makes a token that is not in the vocabulary';
  return undefined;
}

/**
 * Checks tokenizer.json's model.merges: all "left right" strings (split on the one space) or all
 * [left, right] pairs (the form tokenizers 0.20+ writes); transformers.js picks the form from the
 * first entry alone, so a mix would be misread.
 */
export function checkMergeList(merges: unknown, vocab: ReadonlyMap<string, number>, file: string): void {
  if (!Array.isArray(merges)) throw bad(file, 'model.merges is missing or not a list');
  const pairs = Array.isArray(merges[0]);
  for (const [i, merge] of merges.entries()) {
    let parts: unknown[];
    if (pairs) {
      if (!Array.isArray(merge)) throw bad(file, `merges[${i}] is ${describeValue(merge)}, but merges[0] is a pair: every merge must be a [left, right] pair`);
      parts = merge;
    } else {
      if (typeof merge !== 'string') throw bad(file, `merges[${i}] is ${describeValue(merge)}, not a "left right" string`);
      parts = merge.split(' ');
    }
    if (parts.length !== 2 || typeof parts[0] !== 'string' || typeof parts[1] !== 'string') {
      throw bad(file, `merges[${i}] is not two tokens (${pairs ? '[left, right]' : '"left right", one space between'})`);
    }
    const problem = mergeProblem(parts[0], parts[1], vocab);
    if (problem) throw bad(file, `merges[${i}] ${problem}`);
  }
}

/** Checks merges.txt text (an optional "#version" first line, then one "left right" per line); errors give the line. */
export function checkMergesText(text: string, vocab: ReadonlyMap<string, number>, file: string): void {
  const lines = text.split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    if (line === '' || (i === 0 && line.startsWith('#version'))) continue;
    const parts = line.split(' ');
    if (parts.length !== 2) throw bad(file, `line ${i + 1} is not two tokens separated by one space`);
    const problem = mergeProblem(parts[0] as string, parts[1] as string, vocab);
    if (problem) throw bad(file, `line ${i + 1} ${problem}`);
  }
}
