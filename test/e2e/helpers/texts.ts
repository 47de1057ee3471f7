/** Document texts for the browser suites, built deterministically. */

const sentences = [
  'The tide came in over the flats while the keeper watched from the gallery.',
  'She folded the letter twice and set it under the lamp.',
  'Nobody in the village remembered the last time the bell had rung at night.',
  'He counted the steps on the way up, as he always did, and lost count near the top.',
  'Rain moved across the bay in long grey curtains.',
  'The radio hissed, caught a voice, and lost it again.',
];

/** `paragraphs` paragraphs of `sentencesEach` sentences, separated by blank lines. */
export function paragraphs(count: number, sentencesEach = 6): string {
  return Array.from({ length: count }, (_, p) =>
    Array.from({ length: sentencesEach }, (_, s) => sentences[(p * 7 + s * 3) % sentences.length]).join(' '),
  ).join('\n\n');
}

/** Words counted as runs of non-space characters: Inkwell's count for these texts, which have no free-standing punctuation. */
export function countWords(text: string): number {
  return text.split(/\s+/).filter((word) => word.length > 0).length;
}
