/**
 * Context-window arithmetic for the meter: GPT-2 sees at most `windowSize`
 * tokens, generated ones included, so memory and the room reserved for new
 * tokens come first and the prompt is cut from the left. Mirrors the engine's
 * planContext (src/main/engine/generate/context-window.ts): the reserve is
 * max_new_tokens but at most half the window, and at least one token.
 */

/** What the meter needs to know, all in tokens except the prompt's token strings. */
export interface WindowInput {
  /** The model's n_positions (1024 for GPT-2). */
  windowSize: number;
  memoryTokens: number;
  /** The prompt's tokens in display form (tokenize's `tokens`), in order. */
  promptTokens: readonly string[];
  maxNewTokens: number;
}

/** How the window is split, and what falls out. */
export interface WindowUsage {
  windowSize: number;
  memoryTokens: number;
  promptTokens: number;
  /** Prompt tokens that fit after memory and the reservation. */
  keptPromptTokens: number;
  /** Prompt tokens cut from the start. */
  cutTokens: number;
  /** Tokens held back for the continuation (max_new_tokens, capped at half the window). */
  reservedTokens: number;
  /** Memory + kept prompt: what the model reads. */
  usedTokens: number;
  freeTokens: number;
  /** The text that will be cut (the first `cutTokens` tokens, joined). */
  cutText: string;
  /** Memory plus the reservation leave no room for the prompt. */
  memoryCrowdsOut: boolean;
  /** Memory alone fills the window: the back end refuses the request. */
  memoryFillsWindow: boolean;
}

/** Splits the window into memory, kept prompt, reserved new tokens and free space. */
export function measureWindow({ windowSize, memoryTokens, promptTokens, maxNewTokens }: WindowInput): WindowUsage {
  const size = Math.max(1, Math.floor(windowSize));
  const reserved = Math.max(1, Math.min(Math.floor(maxNewTokens), Math.floor(size / 2)));
  const memory = Math.max(0, memoryTokens);
  const budget = Math.max(0, size - reserved - memory);
  const total = promptTokens.length;
  const kept = Math.min(total, budget);
  const cut = total - kept;
  const used = Math.min(size, memory + kept);
  return {
    windowSize: size,
    memoryTokens: memory,
    promptTokens: total,
    keptPromptTokens: kept,
    cutTokens: cut,
    reservedTokens: reserved,
    usedTokens: used,
    freeTokens: Math.max(0, size - used - reserved),
    cutText: promptTokens.slice(0, cut).join(''),
    memoryCrowdsOut: total > 0 && budget === 0,
    memoryFillsWindow: memory >= size,
  };
}

/** A preview of cut text: its last `maxChars` characters, since the end is what borders the kept text. */
export function previewCutText(text: string, maxChars = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= maxChars ? flat : `…${flat.slice(flat.length - maxChars + 1)}`;
}
