/**
 * How a document's title and word count follow its text, shared so that the back end (which stores
 * them) and the UI (which may show them live while the writer types) agree.
 */

/** The title of a document with no text to take one from. */
export const UNTITLED = 'Untitled';
/** Longest automatic title, in characters. */
export const AUTO_TITLE_MAX_CHARS = 80;

/**
 * The title a document without a chosen one takes: its first non-empty line, trimmed, without a
 * Markdown heading's leading `#`s, cut to 80 characters at a space when one is near the end.
 */
export function titleFromContent(content: string): string {
  const firstLine = content.split(/\r?\n/).find((line) => line.trim().length > 0);
  if (firstLine === undefined) return UNTITLED;
  const line = firstLine.trim().replace(/^#{1,6}\s+/, '').trim() || firstLine.trim();
  const characters = Array.from(line);
  if (characters.length <= AUTO_TITLE_MAX_CHARS) return line;
  const cut = characters.slice(0, AUTO_TITLE_MAX_CHARS).join('');
  const space = cut.lastIndexOf(' ');
  return (space >= AUTO_TITLE_MAX_CHARS / 2 ? cut.slice(0, space) : cut).trimEnd();
}

// Han, Hiragana and Katakana are written without spaces; word processors count each character as a word.
const unspacedCharacter = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/gu;
// Letters and digits, with apostrophes and hyphens inside a word (don't, well-known) not splitting it.
const spacedWord = /[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu;

/** Words in `text`, as a writer counts them. */
export function countWords(text: string): number {
  let unspaced = 0;
  const rest = text.replace(unspacedCharacter, () => {
    unspaced += 1;
    return ' ';
  });
  return unspaced + (rest.match(spacedWord)?.length ?? 0);
}
