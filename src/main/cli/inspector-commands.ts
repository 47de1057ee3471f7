/** `inkwell attention`, `inkwell probs` and `inkwell lens`: the inspect pass from the command line. */
import { DeviceRequest } from '../../shared/api';
import type { Engine, InspectRequest, InspectResult, TopToken } from '../engine';
import { parseCommandArgs, parseInteger, requireString, type ParsedArgs } from './args';
import { EXIT, SHOW_HELP, UsageError, type CliIo } from './io';

const COMMON = {
  model: { type: 'string' },
  text: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Attentions printed per query in the human-readable view. */
const SHOWN_KEYS = 3;

function inspectRequest(command: string, args: ParsedArgs): InspectRequest {
  const device = DeviceRequest.safeParse(args.values.device ?? 'auto');
  if (!device.success) throw new UsageError(command, `--device: must be one of ${DeviceRequest.options.join(', ')}`);
  return { modelId: requireString(command, args, 'model'), text: requireString(command, args, 'text'), device: device.data };
}

function optionalInteger(command: string, args: ParsedArgs, flag: string): number | undefined {
  const text = args.values[flag];
  return typeof text === 'string' ? parseInteger(flag, text, command) : undefined;
}

function checkLayer(command: string, layer: number | undefined, layers: number): void {
  if (layer !== undefined && (layer < 0 || layer >= layers)) throw new UsageError(command, `--layer: must be from 0 to ${layers - 1} (the model has ${layers} layers)`);
}

async function withEngine(home: string, run: (engine: Engine) => Promise<number>): Promise<number> {
  const { Engine } = await import('../engine');
  const engine = new Engine({ home });
  try {
    return await run(engine);
  } finally {
    await engine.dispose();
  }
}

/** The token texts of a pass, for JSON and tables ("<0xE2>" for part of a character). */
async function tokenTexts(engine: Engine, summary: InspectResult): Promise<string[]> {
  return engine.inspector.tokenTexts(summary.modelId, summary.tokenIds);
}

/** One layer of `inkwell lens --json`. */
interface LensJson {
  layer: number;
  positions: { logprob: number | null; entropy: number; top: { token: string; id: number; logprob: number }[] }[];
}

/**
 * An attention weight for JSON: five significant digits, which keep every digit float16 holds
 * (2^-11 relative) and drop the long exact binary expansions (0.0001220703125).
 */
const jsonWeight = (value: number): string => (value === 0 ? '0' : String(Number(value.toPrecision(5))));

const quoted = (text: string): string => JSON.stringify(text);
/** A probability with three significant digits, small ones in exponent form. */
const probability = (logprob: number): string => {
  const p = Math.exp(logprob);
  return p >= 0.001 ? p.toFixed(3) : p.toExponential(1);
};
const topJson = (top: readonly TopToken[]) => top.map((t) => ({ token: t.token, id: t.id, logprob: t.logprob }));

/** Runs `inkwell attention …`. */
export async function attentionCommand(argv: readonly string[], io: CliIo, home: string): Promise<number> {
  const args = parseCommandArgs('attention', argv, { ...COMMON, layer: { type: 'string' } });
  if (args.values.help) return SHOW_HELP;
  const request = inspectRequest('attention', args);
  const layer = optionalInteger('attention', args, 'layer');
  return withEngine(home, async (engine) => {
    const summary = await engine.inspector.inspect(request);
    checkLayer('attention', layer, summary.layers);
    const tokens = await tokenTexts(engine, summary);
    const layers = layer === undefined ? Array.from({ length: summary.layers }, (_, l) => l) : [layer];
    const S = summary.tokenIds.length;
    if (args.values.json) {
      const head = { tokens, token_ids: summary.tokenIds, layers: summary.layers, heads: summary.heads, ...(layer !== undefined ? { layer } : {}) };
      // Written a head at a time: every layer of GPT-2 Large over 1024 tokens is 755 M numbers, far
      // more text than one JavaScript string may hold.
      io.stdout(`${JSON.stringify(head).slice(0, -1)},"attentions":[`);
      for (const [n, l] of layers.entries()) {
        const rows = await engine.inspector.attentionRows(request, l);
        io.stdout(n === 0 ? '[' : ',[');
        rows.forEach((headRows, h) => {
          const text = headRows.map((row) => `[${Array.from({ length: S }, (_, j) => (j < row.length ? jsonWeight(row[j] as number) : '0')).join(',')}]`);
          io.stdout(`${h === 0 ? '' : ','}[${text.join(',')}]`);
        });
        io.stdout(']');
      }
      io.stdout(']}\n');
      return EXIT.ok;
    }
    io.stdout(`${S} tokens, ${summary.layers} layers × ${summary.heads} heads; each query with the ${SHOWN_KEYS} keys it attends to most\n`);
    for (const l of layers) {
      const rows = await engine.inspector.attentionRows(request, l);
      rows.forEach((head, h) => {
        io.stdout(`\nlayer ${l} head ${h}\n`);
        head.forEach((row, i) => {
          const keys = Array.from(row, (weight, j) => ({ j, weight })).sort((a, b) => b.weight - a.weight).slice(0, SHOWN_KEYS);
          const shown = keys.map((k) => `${quoted(tokens[k.j] ?? '')} ${k.weight.toFixed(3)}`).join(', ');
          io.stdout(`  ${String(i).padStart(4)} ${quoted(tokens[i] ?? '').padEnd(16)} → ${shown}\n`);
        });
      });
    }
    return EXIT.ok;
  });
}

/** Runs `inkwell probs …`. */
export async function probsCommand(argv: readonly string[], io: CliIo, home: string): Promise<number> {
  const args = parseCommandArgs('probs', argv, COMMON);
  if (args.values.help) return SHOW_HELP;
  const request = inspectRequest('probs', args);
  return withEngine(home, async (engine) => {
    const summary = await engine.inspector.inspect(request);
    const tokens = await tokenTexts(engine, summary);
    if (args.values.json) {
      const positions = summary.positions.map((p) => ({ logprob: p.logprob, top: topJson(p.top) }));
      io.stdout(`${JSON.stringify({ tokens, token_ids: summary.tokenIds, positions })}\n`);
      return EXIT.ok;
    }
    io.stdout(`${tokens.length} tokens; each line: the token, its probability given the tokens before it, and the 3 most likely tokens there\n`);
    io.stdout(`   0 ${quoted(tokens[0] ?? '').padEnd(16)}  (first token: nothing to predict it from)\n`);
    summary.positions.forEach((p, k) => {
      const alternatives = p.top.slice(0, 3).map((t) => `${quoted(t.token)} ${probability(t.logprob)}`).join(', ');
      io.stdout(`${String(k + 1).padStart(4)} ${quoted(tokens[k + 1] ?? '').padEnd(16)}  p ${probability(p.logprob).padEnd(7)}  logprob ${p.logprob.toFixed(3).padStart(8)}   top: ${alternatives}\n`);
    });
    return EXIT.ok;
  });
}

/** Runs `inkwell lens …`. */
export async function lensCommand(argv: readonly string[], io: CliIo, home: string): Promise<number> {
  const args = parseCommandArgs('lens', argv, { ...COMMON, layer: { type: 'string' }, top: { type: 'string' } });
  if (args.values.help) return SHOW_HELP;
  const request = inspectRequest('lens', args);
  const layer = optionalInteger('lens', args, 'layer');
  const k = optionalInteger('lens', args, 'top') ?? 5;
  return withEngine(home, async (engine) => {
    const summary = await engine.inspector.inspect(request);
    checkLayer('lens', layer, summary.layers);
    const tokens = await tokenTexts(engine, summary);
    const layers = layer === undefined ? Array.from({ length: summary.layers }, (_, l) => l) : [layer];
    const lens: LensJson[] = [];
    for (const l of layers) {
      const payload = await engine.inspector.lens(request, l, k);
      const ids = Array.from(payload.topIds);
      const names = await engine.inspector.tokenTexts(summary.modelId, ids);
      lens.push({
        layer: l,
        positions: Array.from({ length: payload.seqLen }, (_, p) => ({
          logprob: p < payload.seqLen - 1 ? (payload.nextLogprobs[p] as number) : null,
          entropy: payload.entropy[p] as number,
          top: Array.from({ length: k }, (_, r) => ({ token: names[p * k + r] as string, id: ids[p * k + r] as number, logprob: payload.topLogprobs[p * k + r] as number })),
        })),
      });
    }
    if (args.values.json) {
      io.stdout(`${JSON.stringify({ tokens, token_ids: summary.tokenIds, layers: summary.layers, k, lens })}\n`);
      return EXIT.ok;
    }
    io.stdout(`most likely next token after each position, read from the residual stream after each block (the last block is the model's output)\n`);
    tokens.forEach((token, p) => {
      io.stdout(`\n${String(p).padStart(4)} ${quoted(token)}${p + 1 < tokens.length ? `  (next: ${quoted(tokens[p + 1] ?? '')})` : ''}\n`);
      for (const entry of lens) {
        const position = entry.positions[p];
        const best = position?.top[0];
        const next = position?.logprob;
        const nextText = next === null || next === undefined ? '' : `   p(next) ${probability(next)}`;
        io.stdout(`     layer ${String(entry.layer).padStart(2)}: ${quoted(best?.token ?? '').padEnd(16)} p ${probability(best?.logprob ?? -Infinity).padEnd(7)}${nextText}\n`);
      }
    });
    return EXIT.ok;
  });
}
