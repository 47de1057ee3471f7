/**
 * Strict number syntax for text a person typed (command-line flags, CSV cells): decimal digits
 * only, so "0x10", "1e3" as an integer, "12abc", "Infinity" and "" are refused, not guessed at.
 */

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** `text` as a safe integer, or the reason it is not one ("expected an integer, got …"). */
export function integerFromText(text: string): number | { error: string } {
  if (!INTEGER.test(text.trim())) return { error: `expected an integer, got ${JSON.stringify(text)}` };
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : { error: `${text} is out of range` };
}

/** `text` as a finite decimal number ("0.7", "1e-2"), or the reason it is not one. */
export function decimalFromText(text: string): number | { error: string } {
  if (!DECIMAL.test(text.trim())) return { error: `expected a number, got ${JSON.stringify(text)}` };
  const value = Number(text);
  return Number.isFinite(value) ? value : { error: `${text} is out of range` };
}
