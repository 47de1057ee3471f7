/** A valid NewGeneration for history tests, with any field overridden. */
import { GenerationParams } from '../../../src/shared/api';
import type { NewGeneration } from '../../../src/main/history';

/** A two-candidate generation on model "tiny"; `overrides` replace whole fields. */
export function sampleGeneration(overrides: Partial<NewGeneration> = {}): NewGeneration {
  return {
    modelId: 'tiny',
    device: 'cpu',
    prompt: 'Once upon a time',
    memory: 'A story about a lighthouse.',
    params: GenerationParams.parse({ seed: 42, numReturnSequences: 2, temperature: 0.7 }),
    seed: 42,
    candidates: [
      { text: ' there was a keeper.', tokenIds: [612, 373, 257, 28599, 13], finishReason: 'length' },
      { text: ' the sea was calm.', tokenIds: [262, 5417, 373, 9480, 13], finishReason: 'stop' },
    ],
    timings: { loadMs: 12.5, prefillMs: 3.25, decodeMs: 40, tokensPerSecond: 125 },
    promptTokens: 4,
    truncatedPromptTokens: 0,
    documentId: null,
    ...overrides,
  };
}
