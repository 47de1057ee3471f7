/**
 * The entries the crash-test writer child saves, derived from (run tag, counter) alone so the test
 * can check any entry it finds after a kill without hearing back from the child.
 */
import type { NewGeneration } from '../../src/main/history';

const promptPattern = /^crash-entry (\S+) (\d+) candidates (\d+)\n/;

/** The k-th generation of run `tag`: 1–4 candidates, now and then large enough to span many pages. */
export function crashEntry(tag: string, k: number): NewGeneration {
  const count = 1 + (k % 4);
  return {
    modelId: 'crash-model',
    device: 'cpu',
    prompt: `crash-entry ${tag} ${k} candidates ${count}\n${filler(tag, k, -1)}`,
    memory: '',
    params: {
      maxNewTokens: 40,
      numReturnSequences: count,
      doSample: true,
      temperature: 0.9,
      topK: 50,
      topP: 0.95,
      repetitionPenalty: 1.1,
      noRepeatNgramSize: 0,
      stop: [],
      device: 'cpu',
    },
    seed: k,
    candidates: Array.from({ length: count }, (_, index) => ({
      text: candidateText(tag, k, index),
      tokenIds: [k, index, 7],
      finishReason: 'length' as const,
    })),
    timings: { loadMs: 1, prefillMs: 2, decodeMs: 3, tokensPerSecond: 4 },
    promptTokens: 5,
    truncatedPromptTokens: 0,
    documentId: null,
  };
}

/** The text of candidate `index` of entry k of run `tag`. */
export function candidateText(tag: string, k: number, index: number): string {
  return `crash-candidate ${tag} ${k} ${index} ${filler(tag, k, index)}`;
}

/** Reads (tag, k, candidate count) back out of a crash entry's prompt. */
export function parseCrashPrompt(prompt: string): { tag: string; k: number; count: number } | null {
  const match = promptPattern.exec(prompt);
  if (!match) return null;
  return { tag: match[1] ?? '', k: Number(match[2]), count: Number(match[3]) };
}

function filler(tag: string, k: number, index: number): string {
  let state = hash(`${tag}/${k}/${index}`);
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
  // Mostly short; every seventh entry carries ~12 KB per text so a kill can land inside a multi-page commit.
  const length = k % 7 === 3 ? 12_000 : 20 + (next() % 600);
  const words = ['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'quill', 'ink', 'page', 'draft', 'margin'];
  let text = '';
  while (text.length < length) text += `${words[next() % words.length]} `;
  return text.slice(0, length);
}

function hash(text: string): number {
  let value = 2166136261;
  for (let i = 0; i < text.length; i++) value = Math.imul(value ^ text.charCodeAt(i), 16777619) >>> 0;
  return value;
}
