/**
 * Fitting memory + prompt + new tokens into the model's context window.
 *
 * Rules (the Kobold/NovelAI convention: room for the reply is reserved up front):
 * 1. The number of new tokens asked for is max_new_tokens, lowered by max_length
 *    (prompt + new tokens, the notebook's `max_length`) when that is set.
 * 2. Memory is never cut. The prompt is cut from the left so that
 *    memory + prompt + reserve ≤ n_positions, where the reserve is the number of
 *    new tokens asked for but at most half the window: a large max_new_tokens never
 *    pushes out more than half of the context. Generation that then reaches the
 *    window ends with finish reason 'length'. When memory alone fills the
 *    context part of the window, nothing of the prompt is kept.
 * 3. If memory leaves no room for even one new token, the request is refused.
 * 4. An empty context (no memory, empty prompt) starts from <|endoftext|>, as
 *    GPT-2's unconditional samples do.
 * 5. max_length is checked against the context that is actually sent: if it leaves
 *    no room for a new token, the request is refused (HF would warn and emit one).
 */
import { EngineError } from '../types';

/** What is fed to the model and how far generation may go. */
export interface ContextPlan {
  /** Memory then the kept end of the prompt. */
  inputIds: number[];
  /** Tokens of the prompt dropped from the left. */
  truncatedPromptTokens: number;
  /** New tokens allowed by max_new_tokens and max_length (the window may end generation earlier). */
  maxNewTokens: number;
}

/** Inputs of `planContext`. */
export interface ContextRequest {
  memoryIds: readonly number[];
  promptIds: readonly number[];
  nPositions: number;
  maxNewTokens: number;
  maxLength?: number | undefined;
  /** Used when memory and prompt are both empty. */
  bosTokenId: number;
}

/** Applies the rules above; throws EngineError('bad_input') when no new token would fit. */
export function planContext(req: ContextRequest): ContextPlan {
  const { memoryIds, promptIds, nPositions } = req;
  if (memoryIds.length >= nPositions) {
    throw new EngineError(
      'bad_input',
      `memory is ${memoryIds.length} tokens; the model's context window is ${nPositions}, so no prompt or new token fits — shorten the memory`,
    );
  }
  let wanted = req.maxNewTokens;
  // max_length only caps the reply once the kept prompt is known; it never cuts the prompt.
  const reserve = Math.max(1, Math.min(wanted, Math.floor(nPositions / 2)));
  const promptRoom = Math.max(0, nPositions - reserve - memoryIds.length);
  const kept = Math.min(promptIds.length, promptRoom);
  const truncatedPromptTokens = promptIds.length - kept;
  let inputIds = [...memoryIds, ...promptIds.slice(promptIds.length - kept)];
  if (inputIds.length === 0) inputIds = [req.bosTokenId];
  if (req.maxLength !== undefined) {
    const room = req.maxLength - inputIds.length;
    if (room < 1) {
      throw new EngineError(
        'bad_input',
        `max_length ${req.maxLength} leaves no room for a new token after the ${inputIds.length}-token prompt; raise max_length or use max_new_tokens`,
      );
    }
    wanted = Math.min(wanted, room);
  }
  return { inputIds, truncatedPromptTokens, maxNewTokens: wanted };
}
