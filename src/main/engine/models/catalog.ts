/**
 * The models Inkwell offers on first run: the five GPT-2 checkpoints on the
 * Hugging Face Hub and bert-base-uncased's tokenizer (for the tokens view),
 * each with its size on the Hub, on disk and in memory per precision, all
 * computed from the real dimensions (footprint.ts), and the notice shown
 * before anything is downloaded.
 */
import { estimateMemory, type MemoryEstimate } from '../runtime/memory-estimate';
import {
  bytesReadPerToken, checkpointBytes, type ModelDimensions, parameterCount, storedBytes, weightBytes,
} from './footprint';
import { PRECISIONS, type Precision } from '../precision';
import { formatBytes } from '../../../shared/models';

/** GPT-2's byte-level BPE tokenizer.json and the small settings files a pull fetches beside the weights. */
const GPT2_TOKENIZER_BYTES = 1_355_256;
const GPT2_SETTINGS_BYTES = 665 + 124 + 26;

/** What one precision of a catalog model takes. */
export interface PrecisionFootprint {
  /** Bytes of the weights in this precision (what is resident once loaded). */
  readonly weightBytes: number;
  /** Bytes in the model store with this precision available (the checkpoint, plus the variant's weights). */
  readonly diskBytes: number;
  /** Estimated memory to load it and generate one sequence over the whole context window. */
  readonly memory: MemoryEstimate;
  /** Bytes read from memory per generated token (the CPU's speed limit). */
  readonly bytesPerToken: number;
}

/** A GPT-2 model the catalog offers. */
export interface CatalogModel {
  readonly kind: 'model';
  /** The alias `inkwell models pull` takes, and the default model id. */
  readonly alias: string;
  /** The Hub repository. */
  readonly repo: string;
  readonly title: string;
  readonly description: string;
  readonly license: string;
  readonly dims: ModelDimensions;
  readonly parameters: number;
  /** Bytes a pull downloads: model.safetensors (computed), tokenizer.json and the settings files. */
  readonly downloadBytes: number;
  readonly precisions: Readonly<Record<Precision, PrecisionFootprint>>;
  /** What a download is, shown before it starts. */
  readonly notice: string;
}

/** A tokenizer the catalog offers (its files go to <home>/tokenizers/<alias>/). */
export interface CatalogTokenizer {
  readonly kind: 'tokenizer';
  readonly alias: string;
  readonly repo: string;
  readonly title: string;
  readonly description: string;
  readonly license: string;
  /** Files fetched; those marked optional only when the repository has them. */
  readonly files: readonly { readonly path: string; readonly optional: boolean }[];
  readonly downloadBytes: number;
  readonly notice: string;
}

/** One catalog entry. */
export type CatalogEntry = CatalogModel | CatalogTokenizer;

interface ModelSource {
  readonly alias: string;
  readonly repo: string;
  readonly title: string;
  readonly description: string;
  readonly license: string;
  readonly author: string;
  readonly dims: ModelDimensions;
}

const GPT2_VOCAB = 50257;
const CONTEXT = 1024;

const MODEL_SOURCES: readonly ModelSource[] = [
  {
    alias: 'distilgpt2', repo: 'distilbert/distilgpt2', title: 'DistilGPT-2', license: 'Apache-2.0', author: 'Hugging Face',
    description: 'GPT-2 distilled to 6 layers: the fastest and smallest, with simpler prose.',
    dims: { nLayer: 6, nEmbd: 768, nHead: 12, nPositions: CONTEXT, vocabSize: GPT2_VOCAB },
  },
  {
    alias: 'gpt2', repo: 'openai-community/gpt2', title: 'GPT-2', license: 'MIT', author: 'OpenAI',
    description: "OpenAI's original GPT-2 (2019): fast on any CPU; a good first model.",
    dims: { nLayer: 12, nEmbd: 768, nHead: 12, nPositions: CONTEXT, vocabSize: GPT2_VOCAB },
  },
  {
    alias: 'gpt2-medium', repo: 'openai-community/gpt2-medium', title: 'GPT-2 Medium', license: 'MIT', author: 'OpenAI',
    description: 'GPT-2 with 24 layers: noticeably more coherent than GPT-2, still quick.',
    dims: { nLayer: 24, nEmbd: 1024, nHead: 16, nPositions: CONTEXT, vocabSize: GPT2_VOCAB },
  },
  {
    alias: 'gpt2-large', repo: 'openai-community/gpt2-large', title: 'GPT-2 Large', license: 'MIT', author: 'OpenAI',
    description: 'GPT-2 with 36 layers: the best prose of the family that runs comfortably on a laptop.',
    dims: { nLayer: 36, nEmbd: 1280, nHead: 20, nPositions: CONTEXT, vocabSize: GPT2_VOCAB },
  },
  {
    alias: 'gpt2-xl', repo: 'openai-community/gpt2-xl', title: 'GPT-2 XL', license: 'MIT', author: 'OpenAI',
    description: 'The full 1.5B GPT-2: the strongest and slowest; wants 8 GB of free memory in fp32.',
    dims: { nLayer: 48, nEmbd: 1600, nHead: 25, nPositions: CONTEXT, vocabSize: GPT2_VOCAB },
  },
];

/** bert-base-uncased's WordPiece tokenizer, which the tokens view shows beside GPT-2's BPE. */
export const BERT_TOKENIZER: CatalogTokenizer = {
  kind: 'tokenizer',
  alias: 'bert-base-uncased',
  repo: 'google-bert/bert-base-uncased',
  title: 'BERT tokenizer (bert-base-uncased)',
  description: "BERT's WordPiece vocabulary, to compare how BERT and GPT-2 split the same text. Only the tokenizer files; no model.",
  license: 'Apache-2.0',
  files: [
    { path: 'vocab.txt', optional: false },
    { path: 'tokenizer_config.json', optional: true },
    { path: 'tokenizer.json', optional: true },
  ],
  downloadBytes: 231_508 + 48 + 466_062,
  notice: 'Downloads about 0.7 MiB of tokenizer files (vocab.txt, tokenizer.json, tokenizer_config.json) from the Hugging Face Hub '
    + '(google-bert/bert-base-uncased, Apache-2.0) into the tokenizers folder. No model weights, and nothing you write is sent anywhere.',
};

/** Default workload of the catalog's memory figures: one sequence over the whole context window. */
const CATALOG_WORKLOAD = { batch: 1, sequenceLength: CONTEXT } as const;


function describeEntry(source: ModelSource): CatalogModel {
  const downloadBytes = checkpointBytes(source.dims) + GPT2_TOKENIZER_BYTES + GPT2_SETTINGS_BYTES;
  const precisions = Object.fromEntries(PRECISIONS.map((precision) => [precision, {
    weightBytes: weightBytes(source.dims, precision),
    diskBytes: storedBytes(source.dims, precision),
    memory: estimateMemory(source.dims, precision, CATALOG_WORKLOAD),
    bytesPerToken: bytesReadPerToken(source.dims, precision),
  }])) as Record<Precision, PrecisionFootprint>;
  return {
    kind: 'model',
    alias: source.alias,
    repo: source.repo,
    title: source.title,
    description: source.description,
    license: source.license,
    dims: source.dims,
    parameters: parameterCount(source.dims),
    downloadBytes,
    precisions,
    notice: `Downloads about ${formatBytes(downloadBytes)} from the Hugging Face Hub (${source.repo}): the model's weights `
      + `(model.safetensors, never a pickle), config.json and the tokenizer. ${source.author} released it under the ${source.license} license; `
      + 'it was trained on web text and can write biased, offensive or false text. It runs on this machine: nothing you write is sent anywhere.',
  };
}

/** The catalog, smallest model first, then the tokenizer. */
export function catalog(): CatalogEntry[] {
  return [...MODEL_SOURCES.map(describeEntry), BERT_TOKENIZER];
}

/** The catalog entry with alias `alias` (e.g. "gpt2-large"), if any. */
export function catalogEntry(alias: string): CatalogEntry | undefined {
  return catalog().find((entry) => entry.alias === alias);
}

/** The catalog entry of Hub repository `repo`, by its current name or the Hub's old top-level one ("gpt2" for openai-community/gpt2). */
export function catalogEntryForRepo(repo: string): CatalogEntry | undefined {
  return catalog().find((entry) => entry.repo === repo || entry.alias === repo);
}
