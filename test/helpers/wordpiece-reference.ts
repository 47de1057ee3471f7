/**
 * An independent BERT tokenizer written from google-research/bert's tokenization.py
 * (BasicTokenizer + WordpieceTokenizer), character by character, for tests: clean the text,
 * space out CJK ideographs, split on whitespace, lowercase, strip accents, split on
 * punctuation, then greedy longest-match-first WordPiece with "##" continuations.
 */

/** tokenization.py `_is_whitespace`. */
function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || /^\p{Zs}$/u.test(ch);
}

/** tokenization.py `_is_control`: category C*, except the whitespace controls. */
function isControl(ch: string): boolean {
  if (ch === '\t' || ch === '\n' || ch === '\r') return false;
  return /^\p{C}$/u.test(ch);
}

/** tokenization.py `_is_punctuation`: the four ASCII non-alphanumeric ranges, or Unicode category P*. */
function isPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0) as number;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return /^\p{P}$/u.test(ch);
}

/** tokenization.py `_is_chinese_char`: the CJK Unified Ideographs blocks. */
function isCjk(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df)
    || (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf)
    || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

/** BasicTokenizer.tokenize with do_lower_case. */
export function referenceBasicTokenize(text: string, lowercase = true): string[] {
  let cleaned = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
    if (isWhitespace(ch)) cleaned += ' ';
    else if (isCjk(cp)) cleaned += ` ${ch} `;
    else cleaned += ch;
  }
  const out: string[] = [];
  for (let word of cleaned.split(' ').filter((w) => w.length > 0)) {
    if (lowercase) word = [...word.toLowerCase().normalize('NFD')].filter((ch) => !/^\p{Mn}$/u.test(ch)).join('');
    let current = '';
    for (const ch of word) {
      if (isPunctuation(ch)) {
        if (current) out.push(current);
        out.push(ch);
        current = '';
      } else {
        current += ch;
      }
    }
    if (current) out.push(current);
  }
  return out;
}

/** WordpieceTokenizer.tokenize of one basic token. */
export function referenceWordPiece(word: string, vocab: ReadonlySet<string>, maxChars = 100): string[] {
  const chars = [...word];
  if (chars.length > maxChars) return ['[UNK]'];
  const pieces: string[] = [];
  let start = 0;
  while (start < chars.length) {
    let end = chars.length;
    let found: string | undefined;
    while (start < end) {
      const piece = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
      if (vocab.has(piece)) {
        found = piece;
        break;
      }
      end--;
    }
    if (found === undefined) return ['[UNK]'];
    pieces.push(found);
    start = end;
  }
  return pieces;
}

/** The full BERT tokenization of `text` with [CLS] and [SEP]. */
export function referenceBertTokenize(text: string, vocab: ReadonlySet<string>): string[] {
  return ['[CLS]', ...referenceBasicTokenize(text).flatMap((w) => referenceWordPiece(w, vocab)), '[SEP]'];
}
