/** `inkwell logits` and `inkwell tokenize`: what the model sees and predicts. */
import { DeviceRequest } from '../../shared/api';
import { topCandidates } from '../engine';
import { parseCommandArgs, precisionFromArgs, requireString } from './args';
import { EXIT, SHOW_HELP, UsageError, type CliIo } from './io';

/** Runs `inkwell logits …`. */
export async function logitsCommand(argv: readonly string[], io: CliIo, home: string): Promise<number> {
  const args = parseCommandArgs('logits', argv, {
    model: { type: 'string' },
    prompt: { type: 'string' },
    all: { type: 'boolean' },
    json: { type: 'boolean' },
    device: { type: 'string' },
    precision: { type: 'string' },
  });
  if (args.values.help) return SHOW_HELP;
  const modelId = requireString('logits', args, 'model');
  const precision = precisionFromArgs('logits', args);
  const prompt = requireString('logits', args, 'prompt');
  const device = DeviceRequest.safeParse(args.values.device ?? 'auto');
  if (!device.success) throw new UsageError('logits', `--device: must be one of ${DeviceRequest.options.join(', ')}`);
  const all = args.values.all === true;

  const { Engine } = await import('../engine');
  const engine = new Engine({ home, precision });
  try {
    const result = await engine.logits(modelId, prompt, all, device.data);
    const { tokenIds, logitsLast, logits } = result;
    if (args.values.json) {
      const out: Record<string, unknown> = { precision: result.precision, token_ids: tokenIds, logits_last: Array.from(logitsLast) };
      if (logits) out.logits = logits.map((row) => Array.from(row));
      io.stdout(`${JSON.stringify(out)}\n`);
      return EXIT.ok;
    }
    const top = topTokens(logitsLast, 10);
    const promptTokens = await engine.tokenStrings(modelId, tokenIds);
    const topNames = await engine.tokenStrings(modelId, top.map((t) => t.id));
    io.stdout(`prompt: ${tokenIds.length} tokens ${JSON.stringify(promptTokens)}\nmost likely next tokens (${result.precision}):\n`);
    top.forEach((t, i) => {
      const name = JSON.stringify(topNames[i] ?? '').padEnd(16);
      io.stdout(`${String(i + 1).padStart(3)}. ${String(t.id).padStart(6)}  ${name}  logit ${t.logit.toFixed(4)}  p ${t.probability.toFixed(4)}\n`);
    });
    return EXIT.ok;
  } finally {
    await engine.dispose();
  }
}

/** The `k` largest logits with their softmax probabilities. */
export function topTokens(logits: Float32Array, k: number): { id: number; logit: number; probability: number }[] {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const ids = topCandidates(logits, k);
  return ids.map((id) => ({ id, logit: logits[id] as number, probability: Math.exp((logits[id] as number) - max) / sum }));
}

/** Runs `inkwell tokenize …` (GPT-2 BPE of a model, or with --bert the BERT WordPiece tokenizer). */
export async function tokenizeCommand(argv: readonly string[], io: CliIo, home: string): Promise<number> {
  const args = parseCommandArgs('tokenize', argv, { model: { type: 'string' }, text: { type: 'string' }, json: { type: 'boolean' }, bert: { type: 'boolean' } });
  if (args.values.help) return SHOW_HELP;
  const bert = args.values.bert === true;
  if (bert && args.values.model !== undefined) throw new UsageError('tokenize', '--bert and --model exclude each other: BERT WordPiece needs no model');
  const modelId = bert ? '' : requireString('tokenize', args, 'model');
  const text = requireString('tokenize', args, 'text');
  const { Engine } = await import('../engine');
  const engine = new Engine({ home });
  try {
    const { ids, tokens } = bert ? await engine.wordPiece(text) : await engine.tokenize(modelId, text);
    if (args.values.json) io.stdout(`${JSON.stringify({ ids, tokens })}\n`);
    else if (bert) io.stdout(`${tokens.join(' ')}\n`);
    else io.stdout(ids.map((id, i) => `${id}\t${JSON.stringify(tokens[i])}\n`).join(''));
    return EXIT.ok;
  } finally {
    await engine.dispose();
  }
}
