/** `inkwell generate`: streams continuations to stdout, or prints one JSON object. */
import { outcomeJson } from '../batch/result-json';
import { GENERATION_OPTIONS, generationParamsFromArgs, parseCommandArgs, parseInteger, precisionFromArgs, requireString } from './args';
import { EXIT, SHOW_HELP, UsageError, type CliIo } from './io';
import { isRemoteModelId } from '../../shared/remote-engines';
import { generateRemote } from './remote-generate';

function header(index: number, count: number): string {
  return `=== sequence ${index + 1} of ${count} ===\n`;
}

/**
 * Plain-text output: sequence 1 streams as it is written; with several sequences each gets a
 * header, and the others (decoded in the same batch) are printed whole once generation ends.
 */
export class StreamPrinter {
  #started = false;
  constructor(private readonly io: CliIo, private readonly count: number) {}

  delta(sequence: number, text: string): void {
    if (sequence !== 0) return;
    this.#start();
    this.io.stdout(text);
  }

  finish(result: { sequences: readonly { text: string }[] }): void {
    this.#start();
    this.io.stdout('\n');
    for (let i = 1; i < result.sequences.length; i++) {
      this.io.stdout(`\n${header(i, this.count)}${result.sequences[i]?.text ?? ''}\n`);
    }
  }

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    if (this.count > 1) this.io.stdout(header(0, this.count));
  }
}

/** Runs `inkwell generate …`. */
export async function generateCommand(argv: readonly string[], io: CliIo, home: string): Promise<number> {
  const args = parseCommandArgs('generate', argv, {
    model: { type: 'string' },
    prompt: { type: 'string' },
    json: { type: 'boolean' },
    'top-logprobs': { type: 'string' },
    'draft-model': { type: 'string' },
    'draft-tokens': { type: 'string' },
    'draft-precision': { type: 'string' },
    ...GENERATION_OPTIONS,
  });
  if (args.values.help) return SHOW_HELP;
  const modelId = requireString('generate', args, 'model');
  const prompt = requireString('generate', args, 'prompt');
  const params = generationParamsFromArgs('generate', args);
  if (isRemoteModelId(modelId)) return generateRemote({ modelId, prompt, params, json: args.values.json === true }, io, home);
  const precision = precisionFromArgs('generate', args);
  const json = args.values.json === true;
  const topText = args.values['top-logprobs'];
  const topLogprobs = typeof topText === 'string' ? parseInteger('top-logprobs', topText, 'generate') : undefined;
  if (topLogprobs !== undefined && (topLogprobs < 0 || topLogprobs > 20)) throw new UsageError('generate', '--top-logprobs: must be from 0 to 20');
  const draftModelId = args.values['draft-model'];
  const draftText = args.values['draft-tokens'];
  for (const flag of ['draft-tokens', 'draft-precision']) {
    if (args.values[flag] !== undefined && typeof draftModelId !== 'string') throw new UsageError('generate', `--${flag} needs --draft-model`);
  }
  const draftPrecision = args.values['draft-precision'] !== undefined ? precisionFromArgs('generate', args, 'draft-precision') : undefined;
  const draftTokens = draftText === 'auto' ? 'auto' : typeof draftText === 'string' ? parseInteger('draft-tokens', draftText, 'generate') : undefined;
  if (typeof draftTokens === 'number' && (draftTokens < 1 || draftTokens > 16)) throw new UsageError('generate', '--draft-tokens: must be auto or from 1 to 16');

  const { Engine } = await import('../engine');
  const engine = new Engine({ home, precision });
  try {
    const printer = json ? null : new StreamPrinter(io, params.numReturnSequences);
    const result = await engine.generate({
      modelId,
      prompt,
      params,
      ...(topLogprobs !== undefined ? { topLogprobs } : {}),
      ...(typeof draftModelId === 'string'
        ? { speculative: { draftModelId, ...(draftTokens !== undefined ? { draftTokens } : {}), ...(draftPrecision !== undefined ? { draftPrecision } : {}) } }
        : {}),
      signal: io.interrupt,
      onStart: (info) => {
        if (json || info.truncatedPromptTokens === 0) return;
        io.stderr(`inkwell: note: the prompt was cut by ${info.truncatedPromptTokens} tokens from the left to fit the context window (${info.promptTokens} kept)\n`);
      },
      onDelta: (sequence, text) => printer?.delta(sequence, text),
    });
    if (json) {
      io.stdout(`${JSON.stringify(outcomeJson(result, topLogprobs !== undefined))}\n`);
    } else {
      printer?.finish(result);
      if (result.deviceFallbackReason) io.stderr(`inkwell: note: ${result.deviceFallbackReason}\n`);
      const newTokens = result.sequences.reduce((n, s) => n + s.tokenIds.length, 0);
      const reasons = [...new Set(result.sequences.map((s) => s.finishReason))].join(', ');
      const spec = result.speculative;
      const drafted = spec ? ` · draft ${spec.draftModelId} ${spec.draftPrecision}: ${spec.accepted}/${spec.proposed} accepted (${(100 * spec.acceptanceRate).toFixed(0)}%)` : '';
      io.stderr(`[${result.modelId} ${result.precision} on ${result.device} · seed ${result.seed} · ${result.promptTokens} prompt + ${newTokens} new tokens · `
        + `${result.timings.tokensPerSecond.toFixed(1)} tokens/s · finish: ${reasons}${drafted}]\n`);
    }
    return io.interrupt.aborted ? EXIT.interrupted : EXIT.ok;
  } finally {
    await engine.dispose();
  }
}
