/**
 * Messages between the bench (parent) and its two measuring processes, one per
 * implementation, so that each one's memory high-water mark is its own.
 */

import type { Precision } from '../src/main/engine/precision';

/** Which implementation a worker process runs. */
export type Implementation = 'inkwell' | 'transformers.js';

/** One generation to time. */
export interface RunSpec {
  /** Text whose tokenization is `promptTokens` ids. */
  readonly prompt: string;
  readonly promptTokens: number;
  /** Sequences wanted (transformers.js: that many copies of the prompt in one batch). */
  readonly k: number;
  readonly newTokens: number;
  /** false: greedy; true: multinomial with temperature 1, top-k 50, no top-p. */
  readonly sample: boolean;
  readonly seed: number;
  /** Inkwell only: speculative decoding with this precision of the same model as the draft (a self-draft). */
  readonly speculative?: SelfDraft;
}

/** A self-draft: the target model's own variant in a smaller precision, proposing `draftTokens` per round. */
export interface SelfDraft {
  readonly draftPrecision: Precision;
  readonly draftTokens: number | 'auto';
}

/** How the draft did in one speculative run (the Engine's SpeculativeSummary, in part). */
export interface DraftOutcome {
  /** Accepted ÷ proposed draft tokens. */
  readonly acceptanceRate: number;
  /** Target passes (rounds) the run took. */
  readonly targetPasses: number;
}

/** What a worker loads: a stored model in one precision. */
export interface LoadSpec {
  readonly home: string;
  readonly modelId: string;
  /** Inkwell: the Engine's precision option. */
  readonly precision: Precision;
  /** transformers.js: the folder (relative to the model) whose model.onnx is this precision's graph. */
  readonly subfolder: string;
}

/** Parent → worker. */
export type Command =
  | ({ readonly op: 'load' } & LoadSpec)
  | { readonly op: 'run'; readonly id: number; readonly spec: RunSpec }
  | { readonly op: 'exit' };

/** Memory figures of a phase, in MiB. */
export interface PhaseMemory {
  /** Highest RSS sampled during the phase. */
  readonly peakRssMiB: number;
  /** process.resourceUsage().maxRSS at the end of the phase (the process's high-water mark so far). */
  readonly maxRssMiB: number;
}

/** Worker → parent. */
export type Reply =
  | { readonly op: 'ready'; readonly rssMiB: number }
  | { readonly op: 'loaded'; readonly loadMs: number; readonly memory: PhaseMemory }
  | {
    readonly op: 'result';
    readonly id: number;
    readonly wallMs: number;
    /** Prompt length the implementation actually used. */
    readonly promptTokens: number;
    /** New token ids of each sequence. */
    readonly tokens: number[][];
    /** The implementation's own prefill/decode split (see RunOutput in runners.ts). */
    readonly split: { readonly prefillMs: number; readonly decodeMs: number };
    /** Present on speculative runs. */
    readonly speculative?: DraftOutcome;
    readonly memory: PhaseMemory;
  }
  | { readonly op: 'error'; readonly message: string };
