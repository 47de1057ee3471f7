/**
 * BERT WordPiece, as the original notebook showed it ("I read a good novel." → [CLS] i read a good
 * novel . [SEP]): BertTokenizer from @huggingface/transformers over bert-base-uncased's own files in
 * <home>/tokenizers/bert-base-uncased/ (tokenizer.json, or the older vocab.txt alone). Only the
 * tokenizer is used; no BERT weights are needed.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { readJsonFile, readTextFile } from '../checkpoint/config';
import { EngineError } from '../types';

/** The tokenizer the Tokens view compares GPT-2 with. */
export const BERT_TOKENIZER_NAME = 'bert-base-uncased';

/** Files of a BERT tokenizer folder that are read (tokenizer.json or vocab.txt must be there). */
export const BERT_TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'special_tokens_map.json'] as const;

/** Where the BERT tokenizer's files live: <home>/tokenizers/bert-base-uncased. */
export function bertTokenizerDir(home: string): string {
  return join(resolve(home), 'tokenizers', BERT_TOKENIZER_NAME);
}

/** WordPiece tokens of a text, with [CLS] and [SEP]. */
export interface WordPieceResult {
  readonly tokens: string[];
  readonly ids: number[];
}

/** A loaded BERT tokenizer. */
export interface BertWordPiece {
  /** Folder the files were read from. */
  readonly dir: string;
  tokenize(text: string): WordPieceResult;
}

/** bert-base-uncased's tokenizer_config.json, for a folder that has only vocab.txt. */
const DEFAULT_CONFIG = {
  do_lower_case: true,
  model_max_length: 512,
  cls_token: '[CLS]',
  sep_token: '[SEP]',
  unk_token: '[UNK]',
  pad_token: '[PAD]',
  mask_token: '[MASK]',
};
const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

/**
 * The tokenizer.json that `BertTokenizerFast` saves for a vocab.txt: BertNormalizer (clean text,
 * CJK characters split, accents stripped when lowercasing), BertPreTokenizer, WordPiece with "##"
 * continuations and words over 100 characters as [UNK], and [CLS] … [SEP] around a text.
 */
export function bertTokenizerJson(vocab: readonly string[], lowercase: boolean, file: string): object {
  const ids = new Map<string, number>();
  vocab.forEach((token, id) => {
    if (!ids.has(token)) ids.set(token, id);
  });
  for (const token of SPECIAL) {
    if (!ids.has(token)) throw new EngineError('bad_input', `${file}: the vocabulary has no ${token} token`);
  }
  const id = (token: string): number => ids.get(token) as number;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL.map((content) => ({ id: id(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(ids) },
  };
}

function missingFilesError(dir: string): EngineError {
  return new EngineError('not_found', `the BERT tokenizer (${BERT_TOKENIZER_NAME}) is not installed: ${dir} has no tokenizer.json or vocab.txt. `
    + `Get it with \`inkwell models pull ${BERT_TOKENIZER_NAME}\`, or import a folder holding ${BERT_TOKENIZER_NAME}'s tokenizer.json or vocab.txt `
    + `(Models → Import tokenizer folder, or copy those files into ${dir}).`);
}

/** Reads the tokenizer in `dir`; EngineError not_found (saying how to get it) when its files are missing. */
export async function loadBertTokenizer(dir: string): Promise<BertWordPiece> {
  const jsonFile = join(dir, 'tokenizer.json');
  const vocabFile = join(dir, 'vocab.txt');
  const configFile = join(dir, 'tokenizer_config.json');
  const config = existsSync(configFile) ? { ...DEFAULT_CONFIG, ...(await readJsonFile(configFile)) as object } : DEFAULT_CONFIG;
  let json: unknown;
  let source: string;
  if (existsSync(jsonFile)) {
    json = await readJsonFile(jsonFile);
    source = jsonFile;
    const model = (json as { model?: { type?: unknown } } | null)?.model;
    if (typeof model !== 'object' || model === null || model.type !== 'WordPiece') {
      throw new EngineError('bad_input', `${jsonFile}: not a WordPiece tokenizer (model.type is ${JSON.stringify(model?.type)})`);
    }
  } else if (existsSync(vocabFile)) {
    // vocab.txt: one token per line, the line number is the id (google-research/bert's format).
    const lines = (await readTextFile(vocabFile)).split(/\r?\n/);
    if (lines[lines.length - 1] === '') lines.pop();
    json = bertTokenizerJson(lines, (config as { do_lower_case?: unknown }).do_lower_case !== false, vocabFile);
    source = vocabFile;
  } else {
    throw missingFilesError(dir);
  }
  const { BertTokenizer } = await import('@huggingface/transformers');
  let tokenizer: InstanceType<typeof BertTokenizer>;
  try {
    tokenizer = new BertTokenizer(json as object, config);
  } catch (error) {
    throw new EngineError('bad_input', `${source}: cannot build the BERT tokenizer (${(error as Error).message})`, { cause: error });
  }
  const idToToken: string[] = [];
  for (const [token, id] of tokenizer.get_vocab() as Map<string, number>) idToToken[id] = token;
  return {
    dir,
    tokenize(text) {
      const ids = tokenizer.encode(text);
      return { ids, tokens: ids.map((id) => idToToken[id] ?? '[UNK]') };
    },
  };
}

/**
 * Copies the BERT tokenizer files found in `srcDir` into `targetDir` after checking that they load,
 * replacing what was there in one rename so a failed import leaves the old files.
 */
export async function importBertTokenizer(srcDir: string, targetDir: string): Promise<BertWordPiece> {
  const source = resolve(srcDir);
  if (!existsSync(source)) throw new EngineError('not_found', `${source}: folder does not exist`);
  await loadBertTokenizer(source).catch((error: unknown) => {
    if (error instanceof EngineError && error.kind === 'not_found') {
      throw new EngineError('not_found', `${source}: no BERT tokenizer here (expected tokenizer.json or vocab.txt)`);
    }
    throw error;
  });
  mkdirSync(dirname(targetDir), { recursive: true });
  const tmp = `${targetDir}.tmp-${randomBytes(6).toString('hex')}`;
  const old = `${targetDir}.old-${randomBytes(6).toString('hex')}`;
  try {
    mkdirSync(tmp);
    const present = new Set(readdirSync(source));
    for (const name of BERT_TOKENIZER_FILES) if (present.has(name)) copyFileSync(join(source, name), join(tmp, name));
    if (existsSync(targetDir)) renameSync(targetDir, old);
    renameSync(tmp, targetDir);
  } catch (error) {
    if (!existsSync(targetDir) && existsSync(old)) renameSync(old, targetDir);
    rmSync(tmp, { recursive: true, force: true });
    throw new EngineError('internal', `importing the BERT tokenizer from ${source} failed: ${(error as Error).message}`, { cause: error });
  }
  rmSync(old, { recursive: true, force: true });
  return loadBertTokenizer(targetDir);
}
