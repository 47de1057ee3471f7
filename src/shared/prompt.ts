/**
 * How the editor's text becomes a prompt: Memory first, then the text before
 * the cursor with the Author's Note inserted a few lines before its end
 * (Kobold Lite / NovelAI convention). Shared so the UI's context meter and the
 * back end agree on exactly what is sent.
 */

export interface PromptParts {
  /** Text always kept at the start of the prompt. */
  memory: string;
  /** Text before the cursor. */
  text: string;
  /** Inserted `depth` lines before the end of `text`; empty means none. */
  authorsNote: string;
  depth: number;
}

/** The two strings sent to the back end: memory is never truncated, prompt is cut from the left. */
export interface ComposedPrompt {
  memory: string;
  prompt: string;
}

/** Builds what is sent to the model from the editor's parts. */
export function composePrompt({ memory, text, authorsNote, depth }: PromptParts): ComposedPrompt {
  let body = text;
  const note = authorsNote.trim();
  if (note.length > 0) {
    const lines = text.split('\n');
    const at = Math.max(0, lines.length - Math.max(0, depth));
    lines.splice(at, 0, `[Author's note: ${note}]`);
    body = lines.join('\n');
  }
  const mem = memory.trim();
  return { memory: mem.length > 0 ? `${mem}\n\n` : '', prompt: body };
}
