/**
 * `inkwell attention`, `inkwell probs` and `inkwell lens` run in-process on a freshly imported
 * checkpoint of a shape no other CLI test uses (2 layers, n_embd 30, 5 heads of size 6, 20
 * positions), their JSON checked against the float64 reference with the tolerances stated in
 * test/main/engine/inspect/inspector.test.ts, and their errors and exit codes.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/main/cli/run';
import { makeRandomCheckpoint } from '../../helpers/checkpoint-factory';
import { loadReferenceGpt2, referenceForward, referenceLogSoftmax, referenceReadout, type ReferenceForward, type ReferenceGpt2 } from '../../helpers/reference-gpt2';

const TEXT = 'The lighthouse keeper watched the storm roll in.';

function maxAbs(rows: readonly Float64Array[]): number {
  let max = 0;
  for (const row of rows) for (const v of row) max = Math.max(max, Math.abs(v));
  return max;
}

function maxOf(row: Float64Array): number {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  return max;
}
let home: string;
let reference: ReferenceGpt2;
let forward: ReferenceForward;
let ids: number[];

async function inkwell(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    interrupt: new AbortController().signal,
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

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'inkwell-cli-inspect-'));
  const src = join(home, 'checkpoint');
  await makeRandomCheckpoint(src, { nLayer: 2, nEmbd: 30, nHead: 5, nPositions: 20, seed: 31 });
  expect((await inkwell(['models', 'import', src, '--id', 'm'])).code).toBe(0);
  reference = loadReferenceGpt2(src);
  ids = (await json<{ ids: number[] }>(['tokenize', '--model', 'm', '--text', TEXT, '--json'])).ids;
  forward = referenceForward(reference, ids);
});

afterAll(() => rmSync(home, { recursive: true, force: true }));

interface TopJson { token: string; id: number; logprob: number }

describe('inkwell attention', () => {
  it('prints attentions[layer][head][i][j] equal to the reference, causal, rows summing to 1', async () => {
    const out = await json<{ tokens: string[]; token_ids: number[]; layers: number; heads: number; attentions: number[][][][] }>(['attention', '--model', 'm', '--text', TEXT, '--device', 'cpu', '--json']);
    expect(Object.keys(out).sort()).toEqual(['attentions', 'heads', 'layers', 'token_ids', 'tokens']);
    expect(out).toMatchObject({ token_ids: ids, layers: 2, heads: 5 });
    expect(out.tokens.join('')).toBe(TEXT);
    const S = ids.length;
    expect(out.attentions).toHaveLength(2);
    out.attentions.forEach((layer, l) => {
      expect(layer).toHaveLength(5);
      layer.forEach((head, h) => {
        expect(head).toHaveLength(S);
        head.forEach((row, i) => {
          expect(row).toHaveLength(S);
          row.forEach((p, j) => {
            const want = forward.attentions[l]![h]![i]![j]!;
            if (j > i) expect(p).toBe(0);
            // float16 storage (2^-11) plus printing with five significant digits (5e-5).
            else expect(Math.abs(p - want)).toBeLessThanOrEqual((2 ** -11 + 5e-5) * want + 1e-6);
          });
          expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThanOrEqual(1e-3);
        });
      });
    });
  });

  it('--layer N prints that layer only', async () => {
    const out = await json<{ layer: number; layers: number; attentions: number[][][][] }>(['attention', '--model', 'm', '--text', TEXT, '--layer', '1', '--json']);
    expect(out.layer).toBe(1);
    expect(out.layers).toBe(2);
    expect(out.attentions).toHaveLength(1);
    const first = out.attentions[0]![2]![3]!;
    expect(Math.abs(first[0]! - forward.attentions[1]![2]![3]![0]!)).toBeLessThanOrEqual(1e-3);
  });

  it('without --json prints what each token attends to, per head', async () => {
    const run = await inkwell(['attention', '--model', 'm', '--text', TEXT, '--layer', '0']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/layer 0 head 4\n/);
    expect(run.stdout).toMatch(/\n +0 "The" +→ "The" 1\.000\n/);
  });
});

describe('inkwell probs', () => {
  it('positions[k] is token k+1 given tokens 0..k, with the top 10, equal to the reference', async () => {
    const out = await json<{ tokens: string[]; token_ids: number[]; positions: { logprob: number; top: TopJson[] }[] }>(['probs', '--model', 'm', '--text', TEXT, '--json']);
    expect(Object.keys(out).sort()).toEqual(['positions', 'token_ids', 'tokens']);
    expect(out.positions).toHaveLength(ids.length - 1);
    const scale = maxAbs(forward.logits);
    const tol = 2e-5 * Math.max(1, scale);
    out.positions.forEach((position, k) => {
      const expected = referenceLogSoftmax(forward.logits[k]!);
      expect(Object.keys(position).sort()).toEqual(['logprob', 'top']);
      expect(Math.abs(position.logprob - expected[ids[k + 1]!]!)).toBeLessThanOrEqual(tol);
      expect(position.top).toHaveLength(10);
      for (const t of position.top) {
        expect(Object.keys(t).sort()).toEqual(['id', 'logprob', 'token']);
        expect(Math.abs(t.logprob - expected[t.id]!)).toBeLessThanOrEqual(tol);
      }
      expect(Math.abs(position.top[0]!.logprob - maxOf(expected))).toBeLessThanOrEqual(tol);
    });
  });

  it('says in --help which token a position is about', async () => {
    const help = await inkwell(['probs', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('positions[k] is\nabout token k+1 given tokens 0..k');
  });

  it('without --json prints one line per token with its probability', async () => {
    const run = await inkwell(['probs', '--model', 'm', '--text', TEXT]);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n').filter((line) => /^ +\d+ "/.test(line))).toHaveLength(ids.length);
    expect(run.stdout).toMatch(/\n {3}0 "The" +\(first token: nothing to predict it from\)\n {3}1 " lighthouse" +p \d\.\d+(e-\d+)? +logprob +-\d+\.\d{3} +top: "/);
  });
});

describe('inkwell lens', () => {
  it('prints each layer\'s top predictions per position, equal to the reference read-out', async () => {
    const out = await json<{ layers: number; k: number; lens: { layer: number; positions: { logprob: number | null; entropy: number; top: TopJson[] }[] }[] }>(['lens', '--model', 'm', '--text', TEXT, '--top', '3', '--json']);
    expect(out).toMatchObject({ layers: 2, k: 3 });
    expect(out.lens.map((l) => l.layer)).toEqual([0, 1]);
    for (const entry of out.lens) {
      const logits = forward.hidden[entry.layer + 1]!.map((h) => referenceReadout(reference, h));
      const tol = 2e-5 * Math.max(1, maxAbs(logits));
      expect(entry.positions).toHaveLength(ids.length);
      entry.positions.forEach((position, p) => {
        const expected = referenceLogSoftmax(logits[p]!);
        expect(position.top).toHaveLength(3);
        expect(Math.abs(position.top[0]!.logprob - maxOf(expected))).toBeLessThanOrEqual(tol);
        for (const t of position.top) expect(Math.abs(t.logprob - expected[t.id]!)).toBeLessThanOrEqual(tol);
        if (p === ids.length - 1) expect(position.logprob).toBeNull();
        else expect(Math.abs(position.logprob! - expected[ids[p + 1]!]!)).toBeLessThanOrEqual(tol);
      });
    }
    const last = out.lens[1]!.positions;
    const probs = await json<{ positions: { top: TopJson[] }[] }>(['probs', '--model', 'm', '--text', TEXT, '--json']);
    // The last block's lens is the model's own output.
    expect(last.slice(0, -1).map((p) => p.top[0]!.id)).toEqual(probs.positions.map((p) => p.top[0]!.id));
  });

  it('--layer N prints one layer, and the table form names every layer', async () => {
    const one = await json<{ lens: { layer: number }[] }>(['lens', '--model', 'm', '--text', TEXT, '--layer', '0', '--json']);
    expect(one.lens.map((l) => l.layer)).toEqual([0]);
    const run = await inkwell(['lens', '--model', 'm', '--text', 'Hello world']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\n {5}layer {2}0: .*\n {5}layer {2}1: /);
  });
});

describe('inkwell tokenize --bert', () => {
  it('says how to get the BERT tokenizer when it is missing, then prints its WordPiece tokens', async () => {
    const missing = await inkwell(['tokenize', '--bert', '--text', 'I read a good novel.']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^inkwell: error: the BERT tokenizer \(bert-base-uncased\) is not installed: .*`inkwell models pull bert-base-uncased`/);
    const dir = join(home, 'tokenizers', 'bert-base-uncased');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'vocab.txt'), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'i', 'read', 'a', 'good', 'nov', '##el', '.'].join('\n'));
    const plain = await inkwell(['tokenize', '--bert', '--text', 'I read a good novel.']);
    expect(plain).toMatchObject({ code: 0, stdout: '[CLS] i read a good nov ##el . [SEP]\n' });
    expect(await json(['tokenize', '--bert', '--text', 'A novel', '--json'])).toEqual({ ids: [2, 7, 9, 10, 3], tokens: ['[CLS]', 'a', 'nov', '##el', '[SEP]'] });
    expect((await inkwell(['tokenize', '--bert', '--model', 'm', '--text', 'x'])).code).toBe(2);
  });
});

describe('inspect commands refuse bad input with exit code 2', () => {
  it('a text longer than the context window, with the window named', async () => {
    const long = 'word'.repeat(30);
    for (const command of ['attention', 'probs', 'lens']) {
      const run = await inkwell([command, '--model', 'm', '--text', long, '--json']);
      expect(run.code, command).toBe(2);
      expect(run.stderr).toMatch(/^inkwell: error: text is \d+ tokens; the model's context window is 20\n$/);
      expect(run.stdout).toBe('');
    }
  });

  it('missing flags, bad layers, a bad --top, an unknown model, an empty text', async () => {
    const cases: [string[], RegExp][] = [
      [['attention', '--model', 'm'], /--text/],
      [['attention', '--model', 'm', '--text', TEXT, '--layer', '2'], /--layer: must be from 0 to 1/],
      [['lens', '--model', 'm', '--text', TEXT, '--layer', 'x'], /--layer/],
      [['lens', '--model', 'm', '--text', TEXT, '--top', '0'], /top-k 0 must be an integer from 1 to 100/],
      [['probs', '--model', 'nope', '--text', TEXT], /no model with id "nope"/],
      [['probs', '--model', 'm', '--text', ''], /text is empty/],
      [['probs', '--model', 'm', '--text', TEXT, '--device', 'gpu'], /--device: must be one of/],
    ];
    for (const [args, message] of cases) {
      const run = await inkwell(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toMatch(message);
    }
  });
});
