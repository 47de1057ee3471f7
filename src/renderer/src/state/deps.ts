/**
 * The narrow dependencies the state classes are built from. Each class takes
 * only what it uses (an API caller, a reporter, a few getters and callbacks);
 * AppState wires them together in one place, so that no class reaches
 * sideways into another and tests build each one without casts.
 */
import type { InkwellApi } from '../../../shared/api';
import type { NoticeTone } from '../lib/error-notice';
import type { GenerateRequest, GenerationListener } from '../lib/generation-router';

export type { NoticeTone };

/** Calls API methods (the state classes never subscribe themselves). */
export type ApiCaller = Pick<InkwellApi, 'call'>;

/** Tells the user about failures and things worth knowing. */
export interface Reporter {
  /** Adds a notice; one with the same key replaces the older one. */
  notify(tone: NoticeTone, message: string, key?: string): void;
  /** Turns a failure into a notice, prefixed with what was being done. */
  reportError(error: unknown, context: string): void;
}

/** Starts and stops generations and routes their events (GenerationRouter). */
export interface Generations {
  start(request: GenerateRequest, listener: GenerationListener): Promise<string>;
  cancel(generationId: string): Promise<boolean>;
}

/** What opening a document came to: opened, gone (deleted since the list was loaded; said so), or failed (reported). */
export type OpenOutcome = 'opened' | 'missing' | 'failed';
