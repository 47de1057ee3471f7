/**
 * `inkwell generate --model remote:<engine>/<model>`: generation on a remote engine from the data
 * folder's Settings (added in the app or in serve mode's Settings page), with its key from the
 * INKWELL_REMOTE_KEY_<NAME> environment variable: the CLI has no OS keychain.
 */
import type { GenerationParams } from '../../shared/api';
import { createRemoteArea } from '../api/remote-handlers';
import { errorMessage } from '../common/errors';
import { EngineError } from '../engine';
import { createRemoteKeyStore } from '../api/remote-keys';
import { AppDatabase } from '../history';
import { historyFile } from '../history/location';
import { StreamPrinter } from './generate-command';
import { EXIT, type CliIo } from './io';

/** What the remote run needs from the command line. */
export interface RemoteGenerateRequest {
  modelId: string;
  prompt: string;
  params: GenerationParams;
  json: boolean;
}

/** Runs one generation on a remote model; prints as `inkwell generate` does (device "remote", precision null, no token ids). */
export async function generateRemote(request: RemoteGenerateRequest, io: CliIo, home: string): Promise<number> {
  const { database } = AppDatabase.open(historyFile(home));
  try {
    const remote = createRemoteArea({ settings: database.settings, keys: createRemoteKeyStore({ env: io.env }) });
    try {
      remote.assertKnown(request.modelId);
    } catch (error) {
      // The CLI's exit codes follow engine error kinds: an unknown engine is bad input (2).
      throw new EngineError('not_found', `${errorMessage(error)}: add it in the app's or serve mode's Settings → Remote engines first`);
    }
    const printer = request.json ? null : new StreamPrinter(io, request.params.numReturnSequences);
    const outcome = await remote.generate({ modelId: request.modelId, prompt: request.prompt, memory: '', params: request.params }, { onDelta: (sequence, text) => printer?.delta(sequence, text) }, io.interrupt);
    if (request.json) {
      io.stdout(`${JSON.stringify({
        model: outcome.modelId,
        precision: null,
        device: 'remote',
        seed: outcome.seed,
        prompt_tokens: outcome.promptTokens,
        sequences: outcome.sequences.map((s) => ({ text: s.text, finish_reason: s.finishReason })),
        ...(outcome.warning ? { warning: outcome.warning } : {}),
        timings: { first_token_ms: Math.round(outcome.timings.prefillMs), decode_ms: Math.round(outcome.timings.decodeMs), tokens_per_second: Math.round(outcome.timings.tokensPerSecond * 100) / 100 },
      })}\n`);
    } else {
      printer?.finish(outcome);
      const reasons = [...new Set(outcome.sequences.map((s) => s.finishReason))].join(', ');
      io.stderr(`[${outcome.modelId} · seed ${outcome.seed} · ${outcome.timings.tokensPerSecond.toFixed(1)} tokens/s · finish: ${reasons}]\n`);
    }
    if (outcome.warning) {
      io.stderr(`inkwell: ${outcome.warning} (the text above is what arrived before it)\n`);
      return EXIT.internal;
    }
    return io.interrupt.aborted ? EXIT.interrupted : EXIT.ok;
  } finally {
    database.close();
  }
}
