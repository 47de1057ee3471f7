/**
 * How byte-level BPE tokens are shown: whitespace made visible, and tokens that each hold only part
 * of a UTF-8 character shown as their bytes and grouped under the character they spell, so no chip
 * is ever a bare "�". Pure (no Node, no DOM): the renderer can use it as it is.
 */

/** One token as a chip shows it. */
export interface TokenView {
  readonly id: number;
  /** The token's exact text, or null when it holds only part of a character (see `group`). */
  readonly text: string | null;
  /** What the chip shows: the text with invisible characters made visible, and any partial character as its bytes ("⟨E2 80⟩"). */
  readonly label: string;
  /** The token's bytes as hex, e.g. "e2 80". */
  readonly bytes: string;
  /** Set when the token holds part of a character: the text of tokens first…last together, which start and end on character boundaries. */
  readonly group?: { readonly first: number; readonly last: number; readonly text: string };
  /** A special token such as <|endoftext|> (shown as its name). */
  readonly special?: true;
}

const VISIBLE: Readonly<Record<string, string>> = { ' ': '·', '\n': '↵', '\r': '␍', '\t': '→', '\u00a0': '⍽' };

/** Shows spaces as "·", line breaks as "↵", carriage returns as "␍", tabs as "→", other control characters as their control pictures. */
export function visibleText(text: string): string {
  if (text.length === 0) return '∅';
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    const shown = VISIBLE[ch];
    if (shown !== undefined) out += shown;
    else if (code < 0x20) out += String.fromCodePoint(0x2400 + code);
    else if (code === 0x7f) out += '␡';
    else if ((code >= 0x200b && code <= 0x200f) || code === 0xfeff || code === 0x2028 || code === 0x2029) out += `⟨U+${code.toString(16).toUpperCase().padStart(4, '0')}⟩`;
    else out += ch;
  }
  return out;
}

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
const strict = new TextDecoder('utf-8', { fatal: true });

/** Length of the valid UTF-8 sequence starting at `at`, or 0 when the byte there starts none. */
function sequenceLength(bytes: Uint8Array, at: number): number {
  const lead = bytes[at] as number;
  const n = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
  if (n === 0 || at + n > bytes.length) return 0;
  try {
    // The fatal decoder also rejects overlong forms, surrogates and code points above U+10FFFF.
    strict.decode(bytes.subarray(at, at + n));
    return n;
  } catch {
    return 0;
  }
}

/** A character (or one byte that starts no valid character) in the concatenated bytes. */
interface Unit {
  readonly start: number;
  readonly end: number;
  readonly text: string | null;
}

function splitUnits(bytes: Uint8Array): Unit[] {
  const units: Unit[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = sequenceLength(bytes, at);
    if (n === 0) {
      units.push({ start: at, end: at + 1, text: null });
      at += 1;
    } else {
      units.push({ start: at, end: at + n, text: strict.decode(bytes.subarray(at, at + n)) });
      at += n;
    }
  }
  return units;
}

/**
 * The chips of a token sequence. `bytesOf` gives a token's bytes, `isSpecial` marks tokens shown by
 * name. Bytes that form no valid character (a character cut at the end of a generation) stay bytes,
 * grouped with text "" under nothing but themselves.
 */
export function tokenViews(ids: readonly number[], bytesOf: (id: number) => Uint8Array, isSpecial: (id: number) => boolean = () => false): TokenView[] {
  const tokenBytes = ids.map((id) => bytesOf(id));
  const starts: number[] = [];
  let total = 0;
  for (const b of tokenBytes) {
    starts.push(total);
    total += b.length;
  }
  const all = new Uint8Array(total);
  tokenBytes.forEach((b, i) => all.set(b, starts[i] as number));
  const units = splitUnits(all);

  // tokenOf[byte] = index of the token holding that byte.
  const tokenOf = new Int32Array(total);
  tokenBytes.forEach((b, i) => tokenOf.fill(i, starts[i] as number, (starts[i] as number) + b.length));
  // Tokens joined by a character that crosses their boundary form one group (transitively).
  const reach = ids.map((_, i) => i);
  for (const u of units) {
    const first = tokenOf[u.start] as number;
    reach[first] = Math.max(reach[first] as number, tokenOf[u.end - 1] as number);
  }
  const groupOf: { first: number; last: number }[] = [];
  for (let first = 0, last = 0, t = 0; t < ids.length; t++) {
    last = Math.max(last, reach[t] as number);
    if (last === t) {
      for (let m = first; m <= t; m++) groupOf[m] = { first, last: t };
      first = t + 1;
    }
  }

  const views: TokenView[] = [];
  let unitIndex = 0;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    const own = tokenBytes[i] as Uint8Array;
    const start = starts[i] as number;
    const end = start + own.length;
    if (isSpecial(id)) {
      const text = new TextDecoder().decode(own);
      views.push({ id, text, label: text, bytes: hex(own), special: true });
      while (unitIndex < units.length && (units[unitIndex] as Unit).end <= end) unitIndex++;
      continue;
    }
    let label = '';
    let whole = true;
    let pending: number[] = [];
    const flush = () => {
      if (pending.length > 0) label += `⟨${pending.map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' ')}⟩`;
      pending = [];
    };
    while (unitIndex < units.length && (units[unitIndex] as Unit).start < end) {
      const u = units[unitIndex] as Unit;
      const inside = u.start >= start && u.end <= end;
      if (inside && u.text !== null) {
        flush();
        label += visibleText(u.text);
      } else {
        whole = false;
        for (let b = Math.max(u.start, start); b < Math.min(u.end, end); b++) pending.push(all[b] as number);
      }
      if (u.end > end) break;
      unitIndex++;
    }
    flush();
    if (own.length === 0) label = '∅';
    if (whole) {
      views.push({ id, text: strict.decode(own), label, bytes: hex(own) });
      continue;
    }
    const { first, last } = groupOf[i] as { first: number; last: number };
    const groupStart = starts[first] as number;
    const groupEnd = (starts[last] as number) + (tokenBytes[last] as Uint8Array).length;
    const text = splitUnits(all.subarray(groupStart, groupEnd)).map((u) => u.text ?? '').join('');
    views.push({ id, text: null, label, bytes: hex(own), group: { first, last, text } });
  }
  return views;
}

/** A single token's text for lists and JSON: its exact text, with bytes that are only part of a character spelled "<0xE2>". */
export function tokenText(bytes: Uint8Array): string {
  return splitUnits(bytes).map((u) => u.text ?? `<0x${(bytes[u.start] as number).toString(16).toUpperCase().padStart(2, '0')}>`).join('');
}
