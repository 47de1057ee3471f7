import { describe, expect, it } from 'vitest';
import { planContext } from '../../../../src/main/engine/generate/context-window';
import { EngineError } from '../../../../src/main/engine/types';

const ids = (n: number, start = 0) => Array.from({ length: n }, (_, i) => start + i);

describe('planContext', () => {
  it('keeps everything that fits', () => {
    const plan = planContext({ memoryIds: ids(3, 100), promptIds: ids(5), nPositions: 64, maxNewTokens: 10, bosTokenId: 9 });
    expect(plan).toEqual({ inputIds: [...ids(3, 100), ...ids(5)], truncatedPromptTokens: 0, maxNewTokens: 10 });
  });

  it('cuts the prompt from the left so memory + prompt + max_new_tokens fit, memory kept', () => {
    const plan = planContext({ memoryIds: ids(4, 100), promptIds: ids(60), nPositions: 64, maxNewTokens: 10, bosTokenId: 9 });
    expect(plan.inputIds).toEqual([...ids(4, 100), ...ids(50, 10)]);
    expect(plan.truncatedPromptTokens).toBe(10);
    expect(plan.inputIds.length + plan.maxNewTokens).toBe(64);
  });

  it('never reserves more than half the window for new tokens', () => {
    const plan = planContext({ memoryIds: [], promptIds: ids(100), nPositions: 64, maxNewTokens: 60, bosTokenId: 9 });
    expect(plan.inputIds).toEqual(ids(32, 68));
    expect(plan.truncatedPromptTokens).toBe(68);
    expect(plan.maxNewTokens).toBe(60);
  });

  it('lowers max_new_tokens to max_length minus the prompt', () => {
    const plan = planContext({ memoryIds: [], promptIds: ids(5), nPositions: 64, maxNewTokens: 50, maxLength: 12, bosTokenId: 9 });
    expect(plan.maxNewTokens).toBe(7);
    expect(planContext({ memoryIds: [], promptIds: ids(5), nPositions: 64, maxNewTokens: 3, maxLength: 12, bosTokenId: 9 }).maxNewTokens).toBe(3);
  });

  it('refuses max_length that leaves no room after the prompt', () => {
    expect(() => planContext({ memoryIds: [], promptIds: ids(5), nPositions: 64, maxNewTokens: 5, maxLength: 5, bosTokenId: 9 }))
      .toThrow(/max_length 5 leaves no room/);
  });

  it('refuses memory that fills the window', () => {
    try {
      planContext({ memoryIds: ids(64), promptIds: ids(1), nPositions: 64, maxNewTokens: 5, bosTokenId: 9 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(EngineError);
      expect((error as EngineError).kind).toBe('bad_input');
      expect((error as EngineError).message).toMatch(/memory is 64 tokens/);
    }
  });

  it('starts an empty context from <|endoftext|>', () => {
    expect(planContext({ memoryIds: [], promptIds: [], nPositions: 64, maxNewTokens: 5, bosTokenId: 50256 }).inputIds).toEqual([50256]);
  });
});
