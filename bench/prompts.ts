/**
 * Prompts of an exact token count. Each word below is one GPT-2 token with its leading
 * space, and GPT-2's pre-tokenizer never merges across a space, so n words are n tokens;
 * the count is still checked with the model's own tokenizer.
 */

const WORDS = (
  ' The old house stood at the end of a long road near the river and every morning the light came'
  + ' through the trees while people in the town went to work in the small shops and the school'
  + ' where children read books about the sea the war and the history of the world before they'
  + ' walked back home for dinner with their family and friends who talked about the day'
).match(/ [A-Za-z]+/g) as string[];

/** A prompt that `encode` turns into exactly `tokens` ids; throws if it does not. */
export function promptOfTokens(tokens: number, encode: (text: string) => readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < tokens; i++) parts.push(WORDS[i % WORDS.length] as string);
  const text = parts.join('');
  const count = encode(text).length;
  if (count !== tokens) throw new Error(`bench prompt: expected ${tokens} tokens, the tokenizer gives ${count}`);
  return text;
}
