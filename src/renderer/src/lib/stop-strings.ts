/** The stop-strings field: "\n\n | THE END" ⇄ ["\n\n", "THE END"]. */

/** Renders stop strings for the text field (line breaks as \n, separated by " | "). */
export function formatStopStrings(stop: readonly string[]): string {
  return stop.map((s) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\|/g, '\\|')).join(' | ');
}

/** Parses the text field; `\n`, `\t`, `\|` and `\\` are escapes, "|" separates. */
export function parseStopStrings(field: string): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < field.length; i++) {
    const ch = field[i];
    if (ch === '\\' && i + 1 < field.length) {
      const next = field[++i];
      current += next === 'n' ? '\n' : next === 't' ? '\t' : next;
    } else if (ch === '|') {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out.map((s) => s.replace(/^ +| +$/g, '')).filter((s) => s.length > 0);
}
