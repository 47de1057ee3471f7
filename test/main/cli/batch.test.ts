/**
 * `inkwell batch` on a tiny random model: .jsonl, .csv and .txt prompts files with per-row
 * parameters and bad rows, every output line equal to `inkwell generate` with the same seed, and
 * a run killed with a real SIGKILL then resumed: no row missing, none written twice.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/main/cli/run';
import { makeRandomCheckpoint } from '../../helpers/checkpoint-factory';

let home: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function inkwell(args: string[]): Promise<Run> {
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

interface Line {
  index: number;
  line: number;
  fields: Record<string, unknown>;
  seed: number;
  prompt_tokens: number;
  sequences: { text: string; token_ids: number[]; finish_reason: string; token_logprobs: number[] }[];
}

function lines(path: string): Line[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
}

/** What `inkwell generate --json` gives for a prompt with these flags. */
async function generated(prompt: string, flags: string[]): Promise<{ seed: number; sequences: { text: string; token_ids: number[]; finish_reason: string }[] }> {
  const run = await inkwell(['generate', '--model', 'tiny', '--prompt', prompt, '--device', 'cpu', '--json', ...flags]);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as { seed: number; sequences: { text: string; token_ids: number[]; finish_reason: string }[] };
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'inkwell-batch-'));
  const src = join(home, 'checkpoint');
  await makeRandomCheckpoint(src, { nLayer: 2, nEmbd: 32, nHead: 4, nPositions: 48, seed: 31 });
  const imported = await inkwell(['models', 'import', src, '--id', 'tiny']);
  expect(imported.code, imported.stderr).toBe(0);
});

afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('inkwell batch', () => {
  it('writes one line per good row of a .jsonl file, equal to inkwell generate with the same seed, and reports bad rows by line', async () => {
    const prompts = join(home, 'mixed.jsonl');
    const tooLong = Array.from({ length: 60 }, () => 'word').join(' ');
    writeFileSync(prompts, [
      JSON.stringify({ prompt: 'The lighthouse keeper', id: 'a' }),
      JSON.stringify({ prompt: 'Once upon a time', max_new_tokens: 4, num_return_sequences: 2, temperature: 1.5, label: ['x'] }),
      '{"prompt": "broken',
      '',
      JSON.stringify({ prompt: tooLong }),
      JSON.stringify({ prompt: 'Greedy row', greedy: true, seed: 99 }),
      JSON.stringify({ prompt: 'Bad temperature', temperature: -1 }),
      JSON.stringify({ text: 'no prompt field' }),
      JSON.stringify({ prompt: 'Stop early', stop: ['e'], 'max-new-tokens': 9 }),
    ].join('\n'));
    const out = join(home, 'mixed.out.jsonl');
    const run = await inkwell(['batch', '--model', 'tiny', '--prompts', prompts, '--out', out, '--max-new-tokens', '7', '--seed', '1000', '--device', 'cpu', '--concurrency', '3']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('');
    for (const [line, reason] of [[3, /not valid JSON/], [4, /empty line/], [5, /context window is 48/], [7, /temperature/], [8, /no "prompt" field/]] as const) {
      expect(run.stderr).toMatch(new RegExp(`mixed\\.jsonl:${line}: skipped: .*${reason.source}`));
    }
    expect(run.stderr).toMatch(/4 rows written to .*mixed\.out\.jsonl, 5 skipped/);
    const written = lines(out).sort((a, b) => a.index - b.index);
    expect(written.map((l) => [l.index, l.line])).toEqual([[0, 1], [1, 2], [5, 6], [8, 9]]);
    expect(written[0]?.fields).toEqual({ prompt: 'The lighthouse keeper', id: 'a' });
    expect(written[1]?.fields.label).toEqual(['x']);
    const flags: string[][] = [
      ['--max-new-tokens', '7', '--seed', '1000'],
      ['--max-new-tokens', '4', '--num-return-sequences', '2', '--temperature', '1.5', '--seed', '1001'],
      ['--max-new-tokens', '7', '--greedy', '--seed', '99'],
      ['--max-new-tokens', '9', '--stop', 'e', '--seed', '1008'],
    ];
    for (const [i, l] of written.entries()) {
      const single = await generated(l.fields.prompt as string, flags[i] as string[]);
      expect(l.seed).toBe(single.seed);
      expect(l.sequences.map(({ text, token_ids, finish_reason }) => ({ text, token_ids, finish_reason }))).toEqual(single.sequences);
      for (const s of l.sequences) {
        expect(s.token_logprobs).toHaveLength(s.token_ids.length);
        for (const p of s.token_logprobs) expect(p).toBeLessThanOrEqual(0);
      }
    }
    expect(written[1]?.sequences).toHaveLength(2);
  });

  it('reads a .csv file with quoted fields and per-row columns, and a .txt file', async () => {
    const csv = join(home, 'rows.csv');
    writeFileSync(csv, 'id,prompt,top_k,seed\r\n1,"Hello, world",5,7\r\n2,"She said ""yes""\nand left",,8\r\n3,,,\r\n4,Plain,0,\r\n');
    const out = join(home, 'rows.out.jsonl');
    const run = await inkwell(['batch', '--model', 'tiny', '--prompts', csv, '--out', out, '--max-new-tokens', '5', '--device', 'cpu']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/rows\.csv:5: skipped: prompt is empty/);
    const written = lines(out).sort((a, b) => a.index - b.index);
    expect(written.map((l) => l.fields.prompt)).toEqual(['Hello, world', 'She said "yes"\nand left', 'Plain']);
    expect(written.map((l) => l.line)).toEqual([2, 3, 6]);
    expect(written[0]?.seed).toBe(7);
    const single = await generated('Hello, world', ['--max-new-tokens', '5', '--top-k', '5', '--seed', '7']);
    expect(written[0]?.sequences.map((s) => s.token_ids)).toEqual(single.sequences.map((s) => s.token_ids));

    const txt = join(home, 'rows.txt');
    writeFileSync(txt, 'first prompt\n\nthird prompt\n');
    const txtOut = join(home, 'txt.out.jsonl');
    const txtRun = await inkwell(['batch', '--model', 'tiny', '--prompts', txt, '--out', txtOut, '--max-new-tokens', '3', '--device', 'cpu']);
    expect(txtRun.code, txtRun.stderr).toBe(0);
    expect(txtRun.stderr).toMatch(/rows\.txt:2: skipped: prompt is empty/);
    expect(lines(txtOut).map((l) => [l.index, l.fields.prompt]).sort()).toEqual([[0, 'first prompt'], [2, 'third prompt']]);
  });

  it('refuses an existing output without --resume, and a file that is not batch output', async () => {
    const txt = join(home, 'two.txt');
    writeFileSync(txt, 'a\nb\n');
    const out = join(home, 'taken.jsonl');
    writeFileSync(out, '{"index": 0, "fields": {"prompt": "a"}}\n');
    const refused = await inkwell(['batch', '--model', 'tiny', '--prompts', txt, '--out', out]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/already holds results; add --resume/);
    writeFileSync(out, 'hello\n');
    const notOurs = await inkwell(['batch', '--model', 'tiny', '--prompts', txt, '--out', out, '--resume']);
    expect(notOurs.code).toBe(2);
    expect(notOurs.stderr).toMatch(/line 1 is not JSON/);
    writeFileSync(out, '{"index": 0, "fields": {"prompt": "something else"}}\n');
    const otherFile = await inkwell(['batch', '--model', 'tiny', '--prompts', txt, '--out', out, '--resume']);
    expect(otherFile.code).toBe(2);
    expect(otherFile.stderr).toMatch(/written for another prompts file/);
    expect(readFileSync(out, 'utf8')).toBe('{"index": 0, "fields": {"prompt": "something else"}}\n');
  });

  it('--precision reaches the engine: a variant the model lacks is refused, not run as fp32 (it was parsed and ignored)', async () => {
    const txt = join(home, 'precision.txt');
    writeFileSync(txt, 'a prompt\n');
    const out = join(home, 'precision.out.jsonl');
    const run = await inkwell(['batch', '--model', 'tiny', '--prompts', txt, '--out', out, '--precision', 'int4', '--max-new-tokens', '2', '--device', 'cpu']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/has no int4 variant/);
    expect(existsSync(out) ? readFileSync(out, 'utf8') : '').toBe('');
  });

  it('a run killed with SIGKILL and resumed ends with every row exactly once, as an uninterrupted run', async () => {
    const rows = 30;
    const prompts = join(home, 'kill.txt');
    writeFileSync(prompts, Array.from({ length: rows }, (_, i) => `Prompt number ${i} about the sea`).join('\n'));
    const flags = ['--model', 'tiny', '--prompts', prompts, '--max-new-tokens', '16', '--seed', '5', '--device', 'cpu', '--concurrency', '2'];
    const reference = join(home, 'kill.reference.jsonl');
    expect((await inkwell(['batch', ...flags, '--out', reference])).code).toBe(0);

    const out = join(home, 'kill.out.jsonl');
    const root = resolve(__dirname, '../../..');
    const register = join(dirname(createRequire(import.meta.url).resolve('jiti')), 'jiti-register.mjs');
    const child = spawn(process.execPath, ['--import', register, join(root, 'src/main/cli.ts'), 'batch', ...flags, '--out', out], {
      env: { ...process.env, INKWELL_HOME: home },
      stdio: 'ignore',
    });
    const exited = new Promise<NodeJS.Signals | null>((done) => child.on('exit', (_code, signal) => done(signal)));
    // Kill once a few rows are on disk, mid-run.
    for (let waited = 0; ; waited += 20) {
      if (existsSync(out) && lines(out).length >= 3) break;
      if (waited > 120_000) throw new Error('the batch never wrote 3 rows');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const before = lines(out).length;
    expect(before).toBeGreaterThanOrEqual(3);
    expect(before).toBeLessThan(rows);
    // As if the kill had landed inside a write: a partial last line.
    appendFileSync(out, '{"index": 29, "line": 30, "fields": {"prom');

    const resumed = await inkwell(['batch', ...flags, '--out', out, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`${rows - before} rows written to .*, ${before} already there`));
    const after = lines(out);
    expect(after.map((l) => l.index).sort((a, b) => a - b)).toEqual(Array.from({ length: rows }, (_, i) => i));
    const strip = (l: Line) => ({ index: l.index, seed: l.seed, sequences: l.sequences });
    expect(after.map(strip).sort((a, b) => a.index - b.index)).toEqual(lines(reference).map(strip).sort((a, b) => a.index - b.index));
  }, 180_000);
});
