/** How a token's text is drawn on a chip: invisible characters made visible. */

/** Shows spaces as "·", line breaks as "↵" and tabs as "→", so token boundaries are visible. */
export function visibleToken(token: string): string {
  if (token.length === 0) return '∅';
  return token.replace(/ /g, '·').replace(/\n/g, '↵').replace(/\r/g, '␍').replace(/\t/g, '→');
}
