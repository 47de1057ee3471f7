/**
 * The `inkwell` CLI, run in-process: each command's output shape and exit code,
 * strict flag validation, and a freshly generated checkpoint of a shape no other
 * test uses (1 layer, n_embd 44, 11 heads, 40 positions, F16, prefixed keys,
 * untied lm_head, vocab.json + merges.txt) imported, run, and checked against
 * the float64 reference.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/main/cli/run';
import { makeRandomCheckpoint } from '../../helpers/checkpoint-factory';
import { loadReferenceGpt2, referenceLogits, type ReferenceGpt2 } from '../../helpers/reference-gpt2';

let home: string;
let src: string;
let reference: ReferenceGpt2;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function inkwell(args: string[], opts: { interrupt?: AbortSignal } = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    interrupt: opts.interrupt ?? new AbortController().signal,
    env: { INKWELL_HOME: home },
  });
  return { code, stdout, stderr };
}

async function json<T>(args: string[]): Promise<T> {
  const run = await inkwell(args);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as T;
}

interface GenerateJson {
  model: string;
  device: string;
  seed: number;
  prompt_tokens: number;
  truncated_prompt_tokens: number;
  sequences: { text: string; token_ids: number[]; finish_reason: string }[];
  timings: Record<string, number>;
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'inkwell-cli-'));
  src = join(home, 'checkpoint');
  await makeRandomCheckpoint(src, {
    nLayer: 1, nEmbd: 44, nHead: 11, nPositions: 40, dtype: 'F16', prefixed: true, tiedLmHead: false, tokenizer: 'vocab+merges', seed: 8,
  });
  reference = loadReferenceGpt2(src);
  const imported = await inkwell(['models', 'import', src, '--id', 'fresh']);
  expect(imported.stderr).toBe('');
  expect(imported.code).toBe(0);
  expect(imported.stdout).toMatch(/^imported fresh: /);
});

afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('inkwell models', () => {
  it('lists models as JSON with at least an id, and as a table', async () => {
    const list = await json<{ id: string; n_embd: number; n_head: number; dtype: string }[]>(['models', 'list', '--json']);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: 'fresh', n_embd: 44, n_head: 11, dtype: 'F16' });
    const table = await inkwell(['models', 'list']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+NAME/);
    expect(table.stdout).toMatch(/\nfresh\s/);
  });

  it('refuses a pickle checkpoint with exit code 2 and a hint to convert it', async () => {
    const pickle = join(home, 'pickle');
    mkdirSync(pickle, { recursive: true });
    writeFileSync(join(pickle, 'config.json'), JSON.stringify({ model_type: 'gpt2', n_layer: 1, n_embd: 8, n_head: 2, n_positions: 16, vocab_size: 50257 }));
    writeFileSync(join(pickle, 'pytorch_model.bin'), Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]));
    const run = await inkwell(['models', 'import', pickle, '--id', 'pickled']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^inkwell: error: .*pytorch_model\.bin.*safetensors/s);
    expect((await json<unknown[]>(['models', 'list', '--json']))).toHaveLength(1);
  });

  it('imports and removes another model; removing an unknown id exits 2', async () => {
    const other = join(home, 'other');
    await makeRandomCheckpoint(other, { nLayer: 1, nEmbd: 8, nHead: 2, nPositions: 16 });
    const imported = await json<{ id: string }>(['models', 'import', other, '--id', 'other', '--json']);
    expect(imported.id).toBe('other');
    expect((await json<{ id: string }[]>(['models', 'list', '--json'])).map((m) => m.id)).toEqual(['fresh', 'other']);
    const removed = await inkwell(['models', 'remove', 'other']);
    expect(removed).toMatchObject({ code: 0, stdout: 'removed other\n' });
    expect((await json<{ id: string }[]>(['models', 'list', '--json'])).map((m) => m.id)).toEqual(['fresh']);
    const again = await inkwell(['models', 'remove', 'other']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/no model with id "other"/);
  });

  it('rejects a missing folder or id with exit code 2', async () => {
    expect((await inkwell(['models', 'import', src])).code).toBe(2);
    expect((await inkwell(['models', 'import', '--id', 'x'])).code).toBe(2);
    expect((await inkwell(['models', 'import', join(home, 'missing'), '--id', 'x'])).code).toBe(2);
    expect((await inkwell(['models', 'import', src, '--id', 'bad/id'])).code).toBe(2);
    expect((await inkwell(['models', 'frobnicate'])).code).toBe(2);
  });
});

describe('inkwell generate', () => {
  it('prints one JSON object of the documented shape', async () => {
    const out = await json<GenerateJson>(['generate', '--model', 'fresh', '--prompt', 'Hello', '--max-new-tokens', '6', '--num-return-sequences', '2', '--seed', '42', '--device', 'cpu', '--json']);
    expect(Object.keys(out).sort()).toEqual(['device', 'model', 'precision', 'prompt_tokens', 'seed', 'sequences', 'timings', 'truncated_prompt_tokens']);
    expect(out).toMatchObject({ model: 'fresh', device: 'cpu', seed: 42, prompt_tokens: 1, truncated_prompt_tokens: 0 });
    expect(out.sequences).toHaveLength(2);
    for (const s of out.sequences) {
      expect(Object.keys(s).sort()).toEqual(['finish_reason', 'text', 'token_ids']);
      expect(s.token_ids.length).toBeLessThanOrEqual(6);
      expect(['stop', 'length']).toContain(s.finish_reason);
    }
    expect(Object.keys(out.timings).sort()).toEqual(['decode_ms', 'load_ms', 'prefill_ms', 'tokens_per_second']);
  });

  it('greedy tokens follow the float64 reference (argmax of a full recomputation each step)', async () => {
    const prompt = 'The cat sat on the';
    const out = await json<GenerateJson>(['generate', '--model', 'fresh', '--prompt', prompt, '--greedy', '--max-new-tokens', '8', '--json']);
    const ids = (await json<{ ids: number[] }>(['tokenize', '--model', 'fresh', '--text', prompt, '--json'])).ids;
    const generated = out.sequences[0]?.token_ids ?? [];
    expect(generated.length).toBeGreaterThan(0);
    for (const token of generated) {
      const rows = referenceLogits(reference, ids);
      const last = rows[rows.length - 1] as Float64Array;
      const sorted = Array.from(last).sort((a, b) => b - a);
      // A near tie between the two best could legitimately flip in float32; none should occur here.
      expect((sorted[0] as number) - (sorted[1] as number)).toBeGreaterThan(1e-4);
      expect(token).toBe(last.indexOf(sorted[0] as number));
      ids.push(token);
    }
  });

  it('streams the same text without --json, and puts headers between several sequences', async () => {
    const args = ['generate', '--model', 'fresh', '--prompt', 'Once', '--max-new-tokens', '5', '--seed', '9'];
    const asJson = await json<GenerateJson>([...args, '--num-return-sequences', '2', '--json']);
    const single = await inkwell(args);
    expect(single.code).toBe(0);
    expect(single.stdout).toBe(`${asJson.sequences[0]?.text}\n`);
    expect(single.stderr).toMatch(/seed 9/);
    const two = await inkwell([...args, '--num-return-sequences', '2']);
    expect(two.stdout).toBe(`=== sequence 1 of 2 ===\n${asJson.sequences[0]?.text}\n\n=== sequence 2 of 2 ===\n${asJson.sequences[1]?.text}\n`);
  });

  it('reports a prompt cut to fit the window, and finish reason length at the window', async () => {
    const prompt = Array.from({ length: 60 }, (_, i) => `x${i}`).join(' ');
    const out = await json<GenerateJson>(['generate', '--model', 'fresh', '--prompt', prompt, '--max-new-tokens', '100', '--greedy', '--json']);
    expect(out.truncated_prompt_tokens).toBeGreaterThan(0);
    expect(out.prompt_tokens).toBe(20);
    const s = out.sequences[0];
    if (s?.finish_reason === 'length') expect(out.prompt_tokens + s.token_ids.length).toBe(40);
    const plain = await inkwell(['generate', '--model', 'fresh', '--prompt', prompt, '--max-new-tokens', '2']);
    expect(plain.stderr).toMatch(/prompt was cut by \d+ tokens/);
  });

  it('stops when interrupted, keeping partial output, with exit code 130', async () => {
    const controller = new AbortController();
    controller.abort();
    const run = await inkwell(['generate', '--model', 'fresh', '--prompt', 'x', '--json'], { interrupt: controller.signal });
    expect(run.code).toBe(130);
    const out = JSON.parse(run.stdout) as GenerateJson;
    expect(out.sequences[0]?.finish_reason).toBe('cancelled');
  });

  it.each([
    [['--top-k', 'abc'], /--top-k: expected an integer, got "abc"/],
    [['--top-k', '-1'], /--top-k: must be at least 0/],
    [['--top-k', '1.5'], /--top-k: expected an integer/],
    [['--top-p', '0'], /--top-p: must be greater than 0/],
    [['--top-p', '1.01'], /--top-p: must be at most 1/],
    [['--temperature', 'hot'], /--temperature: expected a number/],
    [['--temperature', '0'], /--temperature: must be greater than 0/],
    [['--max-new-tokens', '0'], /--max-new-tokens: must be at least 1/],
    [['--max-new-tokens', '1e3'], /--max-new-tokens: expected an integer/],
    [['--num-return-sequences', '9'], /--num-return-sequences: must be at most 8/],
    [['--seed', '4294967296'], /--seed: must be at most 4294967295/],
    [['--repetition-penalty', ''], /--repetition-penalty: expected a number/],
    [['--no-repeat-ngram-size', '-2'], /--no-repeat-ngram-size: must be at least 0/],
    [['--device', 'tpu'], /--device: must be one of auto, cpu, webgpu, cuda/],
    [['--stop', ''], /--stop: a stop string must not be empty/],
    [['--stop', 'a', '--stop', 'b', '--stop', 'c', '--stop', 'd', '--stop', 'e', '--stop', 'f', '--stop', 'g', '--stop', 'h', '--stop', 'i'], /--stop: at most 8 stop strings/],
    [['--top-k'], /argument missing/],
    [['--max-length', '1'], /max_length 1 leaves no room/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
    [['extra'], /unexpected argument "extra"/],
  ])('exits 2 on bad input %j', async (extra, message) => {
    const run = await inkwell(['generate', '--model', 'fresh', '--prompt', 'hi there', ...extra]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/^inkwell: error: /);
  });

  it('takes flag values that start with a dash', async () => {
    const out = await json<GenerateJson>(['generate', '--model', 'fresh', '--prompt', '-- dashes', '--stop', '---', '--max-new-tokens', '2', '--json']);
    expect(out.prompt_tokens).toBeGreaterThan(0);
  });

  it('exits 2 for an unknown model or a missing flag', async () => {
    const unknown = await inkwell(['generate', '--model', 'nope', '--prompt', 'x']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no model with id "nope"/);
    expect((await inkwell(['generate', '--model', 'fresh'])).stderr).toMatch(/--prompt is required/);
    expect((await inkwell(['generate', '--prompt', 'x'])).code).toBe(2);
  });
});

describe('inkwell generate: log-probabilities and speculative decoding', () => {
  it('adds token_logprobs and top_logprobs with --top-logprobs, each the log-softmax of the reference logits', async () => {
    const out = await json<{ sequences: { token_ids: number[]; token_logprobs: number[]; top_logprobs: { id: number; logprob: number }[][] }[] }>([
      'generate', '--model', 'fresh', '--prompt', 'Hello there', '--max-new-tokens', '4', '--temperature', '2', '--seed', '3', '--device', 'cpu', '--top-logprobs', '3', '--json',
    ]);
    const sequence = out.sequences[0];
    const ids = [...(await json<{ ids: number[] }>(['tokenize', '--model', 'fresh', '--text', 'Hello there', '--json'])).ids];
    sequence?.token_ids.forEach((token, i) => {
      const row = referenceLogits(reference, [...ids, ...sequence.token_ids.slice(0, i)]).at(-1) as Float64Array;
      const max = Math.max(...row);
      const logZ = max + Math.log(row.reduce((sum, v) => sum + Math.exp(v - max), 0));
      expect(Math.abs((sequence.token_logprobs[i] as number) - ((row[token] as number) - logZ))).toBeLessThan(1e-4);
      expect(sequence.top_logprobs[i]).toHaveLength(3);
      expect(sequence.top_logprobs[i]?.[0]?.id).toBe(row.indexOf(max));
    });
    const refused = await inkwell(['generate', '--model', 'fresh', '--prompt', 'x', '--top-logprobs', '21']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--top-logprobs: must be from 0 to 20/);
  });

  it('decodes speculatively with --draft-model: the greedy text of plain decoding, with the acceptance rate', async () => {
    const flags = ['generate', '--model', 'fresh', '--prompt', 'The sea', '--max-new-tokens', '12', '--greedy', '--device', 'cpu', '--json'];
    const plain = await json<{ sequences: { token_ids: number[] }[] }>(flags);
    const drafted = await json<{ sequences: { token_ids: number[] }[]; speculative: { draft_model: string; draft_tokens: number; acceptance_rate: number } }>([...flags, '--draft-model', 'fresh', '--draft-tokens', '3']);
    expect(drafted.sequences[0]?.token_ids).toEqual(plain.sequences[0]?.token_ids);
    expect(drafted.speculative).toMatchObject({ draft_model: 'fresh', draft_tokens: 3, acceptance_rate: 1 });
    const missing = await inkwell([...flags, '--draft-model', 'nope']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no model with id "nope"/);
    expect((await inkwell([...flags, '--draft-tokens', '3'])).stderr).toMatch(/--draft-tokens needs --draft-model/);
  });
});

describe('inkwell logits and tokenize', () => {
  it('prints token ids and last-position logits that agree with the float64 reference', async () => {
    const prompt = 'Inkwell writes';
    const out = await json<{ token_ids: number[]; logits_last: number[]; logits?: number[][] }>(['logits', '--model', 'fresh', '--prompt', prompt, '--json']);
    expect(Object.keys(out).sort()).toEqual(['logits_last', 'precision', 'token_ids']);
    const expected = referenceLogits(reference, out.token_ids);
    const last = expected[expected.length - 1] as Float64Array;
    expect(out.logits_last).toHaveLength(50257);
    const scale = Math.max(...Array.from(last, Math.abs));
    const diff = Math.max(...out.logits_last.map((v, i) => Math.abs(v - (last[i] as number))));
    // float32 graph vs float64 loops; see test/main/engine/onnx/export-fixture.ts for the budget.
    expect(diff).toBeLessThanOrEqual(1e-5 * Math.max(1, scale));
  });

  it('adds one row per prompt position with --all', async () => {
    const out = await json<{ token_ids: number[]; logits_last: number[]; logits: number[][] }>(['logits', '--model', 'fresh', '--prompt', 'a b c', '--all', '--json']);
    expect(out.logits).toHaveLength(out.token_ids.length);
    expect(out.logits[out.logits.length - 1]).toEqual(out.logits_last);
    const expected = referenceLogits(reference, out.token_ids);
    out.logits.forEach((row, p) => {
      const ref = expected[p] as Float64Array;
      const scale = Math.max(...Array.from(ref, Math.abs));
      expect(Math.max(...row.map((v, i) => Math.abs(v - (ref[i] as number))))).toBeLessThanOrEqual(1e-5 * Math.max(1, scale));
    });
  });

  it('shows the most likely next tokens without --json', async () => {
    const run = await inkwell(['logits', '--model', 'fresh', '--prompt', 'Hello']);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n').filter((l) => /^\s+\d+\.\s+\d+\s/.test(l))).toHaveLength(10);
  });

  it('tokenizes text into ids and tokens', async () => {
    const out = await json<{ ids: number[]; tokens: string[] }>(['tokenize', '--model', 'fresh', '--text', 'Hello world', '--json']);
    expect(out).toEqual({ ids: [15496, 995], tokens: ['Hello', ' world'] });
    const plain = await inkwell(['tokenize', '--model', 'fresh', '--text', 'Hello world']);
    expect(plain.stdout).toBe('15496\t"Hello"\n995\t" world"\n');
  });

  it('rejects bad logits and tokenize requests with exit code 2', async () => {
    expect((await inkwell(['logits', '--model', 'fresh', '--prompt', '', '--json'])).code).toBe(2);
    expect((await inkwell(['logits', '--model', 'fresh', '--prompt', 'x', '--device', 'gpu'])).code).toBe(2);
    expect((await inkwell(['tokenize', '--model', 'nope', '--text', 'x', '--json'])).code).toBe(2);
    expect((await inkwell(['tokenize', '--model', 'fresh'])).code).toBe(2);
  });
});

describe('inkwell help, version and dispatch', () => {
  it('prints the version and help', async () => {
    const version = await inkwell(['--version']);
    expect(version).toMatchObject({ code: 0 });
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    for (const args of [['--help'], ['help'], ['help', 'generate'], ['generate', '--help'], ['models', '--help'], ['models', 'list', '-h'], ['logits', '--help'], ['tokenize', '-h'], ['serve', '--help']]) {
      const run = await inkwell(args);
      expect(run.code, args.join(' ')).toBe(0);
      expect(run.stdout, args.join(' ')).toMatch(/Usage/);
    }
    expect((await inkwell(['generate', '--help'])).stdout).toMatch(/--no-repeat-ngram-size/);
  });

  it('exits 2 for no command, an unknown command, or bad serve flags', async () => {
    expect((await inkwell([])).code).toBe(2);
    const unknown = await inkwell(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
    expect((await inkwell(['help', 'frobnicate'])).code).toBe(2);
    expect((await inkwell(['serve', '--port', 'http'])).code).toBe(2);
    expect((await inkwell(['serve', '--port', '70000'])).code).toBe(2);
  });
});

describe('inkwell models convert and --precision', () => {
  interface VariantJson {
    precision: string;
    size_bytes: number;
    weight_bytes_per_token: number;
    format: { bits: number; block_size: number | null; embedding: string; matmul: string };
    quality: { mean_kl: number; greedy_agreement: number; perplexity: number; fp32_perplexity: number; positions: number } | null;
    speed: { decode_ms_per_step: number; fp32_decode_ms_per_step: number; decode_tokens_per_s: number } | null;
  }

  it('converts to int4, lists the variant with its figures, and runs generate and logits in it', async () => {
    const made = await json<VariantJson[]>(['models', 'convert', 'fresh', '--precision', 'int4', '--json']);
    expect(made).toHaveLength(1);
    const [variant] = made as [VariantJson];
    expect(variant).toMatchObject({ precision: 'int4', format: { bits: 4, block_size: 32, matmul: 'MatMulNBits', embedding: 'Gather' } });
    expect(variant.quality?.positions).toBeGreaterThan(0);
    expect(variant.speed?.decode_tokens_per_s).toBeCloseTo(1000 / (variant.speed?.decode_ms_per_step ?? 1), 6);

    const listed = await json<{ id: string; variants: VariantJson[] }[]>(['models', 'list', '--json']);
    expect(listed.find((m) => m.id === 'fresh')?.variants.map((v) => v.precision)).toEqual(['int4']);
    const table = await inkwell(['models', 'list']);
    expect(table.stdout).toMatch(/^ {2}int4 .*ms\/token .*KL .*perplexity/m);

    const generated = await json<{ precision: string; sequences: { token_ids: number[] }[] }>(['generate', '--model', 'fresh', '--prompt', 'Hello', '--max-new-tokens', '3', '--greedy', '--precision', 'int4', '--device', 'cpu', '--json']);
    expect(generated.precision).toBe('int4');
    // 'auto' on the CPU prefers int8, which this model lacks, then int4.
    const auto = await json<{ precision: string }>(['logits', '--model', 'fresh', '--prompt', 'Hello', '--device', 'cpu', '--json']);
    expect(auto.precision).toBe('int4');
    const fp32 = await json<{ precision: string }>(['logits', '--model', 'fresh', '--prompt', 'Hello', '--precision', 'fp32', '--json']);
    expect(fp32.precision).toBe('fp32');
  });

  it('refuses a precision the model lacks (with the convert command), an unknown precision, and removes a variant', async () => {
    const missing = await inkwell(['generate', '--model', 'fresh', '--prompt', 'Hello', '--precision', 'int8', '--max-new-tokens', '2']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no int8 variant .*inkwell models convert fresh --precision int8/);
    const bogus = await inkwell(['generate', '--model', 'fresh', '--prompt', 'Hello', '--precision', 'int3']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/--precision: must be one of fp32, fp16, int8, int4 or auto/);
    expect((await inkwell(['models', 'convert', 'fresh', '--precision', 'fp32'])).code).toBe(2);
    expect((await inkwell(['models', 'convert', 'fresh'])).code).toBe(2);
    expect((await inkwell(['models', 'convert', 'nope', '--precision', 'int8'])).code).toBe(2);
    const removed = await inkwell(['models', 'remove', 'fresh', '--precision', 'int4']);
    expect(removed).toMatchObject({ code: 0, stdout: 'removed the int4 variant of fresh\n' });
    expect((await json<{ id: string; variants: unknown[] }[]>(['models', 'list', '--json'])).find((m) => m.id === 'fresh')?.variants).toEqual([]);
  });
});
