/**
 * `inkwell compare` on two random-weight models of different shapes, in-process: the JSON shape,
 * one seed for both columns, the same-device schedule, a forced fallback (webgpu on a machine
 * without one), and the perplexity matrix and divergence probabilities against the float64
 * reference forward pass.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/main/cli/run';
import { Engine } from '../../../src/main/engine';
import { loadTokenizer } from '../../../src/main/engine/tokenizer';
import { AppDatabase } from '../../../src/main/history';
import { historyFile } from '../../../src/main/history/location';
import { RemoteEngineSettings } from '../../../src/shared/remote-engines';
import { makeRandomCheckpoint } from '../../helpers/checkpoint-factory';
import { RemoteStandin, readRecording } from '../../helpers/remote-standin';
import { loadReferenceGpt2, referenceLogits, referenceLogSoftmax, type ReferenceGpt2 } from '../../helpers/reference-gpt2';

let home: string;
const references: Record<string, ReferenceGpt2> = {};
const PROMPT = 'The lighthouse keeper';

interface CompareJson {
  seed: number;
  columns: { model: string; device: string; requested_device: string; device_fallback_reason?: string; status: string; text: string; token_ids: number[]; tokenized_by?: string; started_at_ms: number; ended_at_ms: number; tokens_per_second: number; peak_rss_mb: number | null; ttft_ms: number | null }[];
  perplexity: (number | null)[][];
  divergence: { position: number; tokens: { column: number; token_id: number | null; probabilities: (number | null)[] }[] } | null;
}

async function compare(args: string[]): Promise<{ code: number; out: CompareJson; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['compare', ...args, '--json'], {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    interrupt: new AbortController().signal,
    env: { INKWELL_HOME: home },
  });
  return { code, out: JSON.parse(stdout || 'null') as CompareJson, stderr };
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'inkwell-compare-cli-'));
  const engine = new Engine({ home });
  for (const [id, shape] of [['small', { nLayer: 1, nEmbd: 32, nHead: 4, nPositions: 48, seed: 21 }], ['wide', { nLayer: 2, nEmbd: 48, nHead: 6, nPositions: 48, seed: 22 }]] as const) {
    const src = join(home, `src-${id}`);
    await makeRandomCheckpoint(src, shape);
    await engine.models.import(src, id);
    references[id] = loadReferenceGpt2(src);
  }
  await engine.dispose();
}, 120_000);

afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('inkwell compare', () => {
  it('gives each model\'s perplexity of each output as the float64 reference does (1e-4 relative)', async () => {
    const { code, out } = await compare(['--models', 'small,wide', '--prompt', PROMPT, '--seed', '11', '--max-new-tokens', '8', '--devices', 'cpu']);
    expect(code).toBe(0);
    expect(out.columns.map((c) => c.model)).toEqual(['small', 'wide']);
    const tokenizer = await loadTokenizer(join(home, 'src-small'));
    const context = tokenizer.encode(PROMPT);
    const models = ['small', 'wide'];
    const refLogprobs = models.map((scorer) =>
      out.columns.map((column) => {
        const ids = [...context, ...column.token_ids];
        const rows = referenceLogits(references[scorer]!, ids);
        return column.token_ids.map((token, i) => referenceLogSoftmax(rows[context.length - 1 + i]!)[token]!);
      }),
    );
    models.forEach((_, i) =>
      out.columns.forEach((column, j) => {
        expect(column.token_ids.length).toBeGreaterThan(0);
        const lps = refLogprobs[i]![j]!;
        const expected = Math.exp(-lps.reduce((a, b) => a + b, 0) / lps.length);
        const got = out.perplexity[i]![j]!;
        expect(Math.abs(got - expected) / expected, `perplexity[${i}][${j}]`).toBeLessThan(1e-4);
      }),
    );
    // Random models of different shapes disagree almost at once; the probabilities there are the reference's too.
    const d = out.divergence;
    expect(d).not.toBeNull();
    for (const token of d!.tokens) {
      models.forEach((_, i) => {
        const expected = Math.exp(refLogprobs[i]![token.column]![d!.position]!);
        expect(Math.abs(token.probabilities[i]! - expected)).toBeLessThan(1e-5 + 1e-4 * expected);
      });
    }
  }, 120_000);

  it('runs both cpu columns in turn with one seed, and reports a forced webgpu fallback as such', async () => {
    const { code, out } = await compare(['--models', 'small,wide', '--prompt', PROMPT, '--seed', '5', '--max-new-tokens', '6', '--devices', 'cpu,webgpu']);
    expect(code).toBe(0);
    expect(out.seed).toBe(5);
    const [first, second] = out.columns;
    expect(first).toMatchObject({ device: 'cpu', requested_device: 'cpu', status: 'done' });
    expect(first?.device_fallback_reason).toBeUndefined();
    expect(second).toMatchObject({ device: 'cpu', requested_device: 'webgpu', status: 'done' });
    expect(second?.device_fallback_reason).toMatch(/webgpu/);
    // This machine has no GPU, so the webgpu column shares the cpu lane and runs after the first.
    expect(second!.started_at_ms).toBeGreaterThanOrEqual(first!.ended_at_ms);
    for (const c of out.columns) {
      expect(c.tokens_per_second).toBeGreaterThan(0);
      expect(c.peak_rss_mb).toBeGreaterThan(10);
      expect(c.ttft_ms).toBeGreaterThan(0);
    }
  }, 120_000);

  it('refuses one model, five models and a precision that does not exist, with exit code 2', async () => {
    for (const args of [['--models', 'small'], ['--models', 'a,b,c,d,e'], ['--models', 'small,wide', '--precisions', 'fp8']]) {
      let stderr = '';
      const code = await runCli(['compare', ...args, '--prompt', 'x'], { stdout: () => {}, stderr: (t) => void (stderr += t), interrupt: new AbortController().signal, env: { INKWELL_HOME: home } });
      expect(code, args.join(' ')).toBe(2);
      expect(stderr).toMatch(/--models|--precisions/);
    }
  });

  it('takes a remote column: streamed from the engine in Settings, its text scored by the local model as the reference does, the server scoring through echo', async () => {
    const vllm = await RemoteStandin.start('vllm');
    const { database } = AppDatabase.open(historyFile(home));
    database.settings.set({ remoteEngines: [RemoteEngineSettings.parse({ name: 'lab', baseUrl: vllm.origin })] });
    database.close();
    vllm.completions.push({ fixture: 'completions-stream.sse' }, { fixture: 'completions-echo-score.json' }, { fixture: 'completions-echo-score.json' });
    try {
      const { code, out } = await compare(['--models', 'small,remote:lab/gpt2-large', '--prompt', PROMPT, '--seed', '3', '--max-new-tokens', '4']);
      expect(code).toBe(0);
      const remote = out.columns[1]!;
      expect(remote).toMatchObject({ model: 'remote:lab/gpt2-large', device: 'remote: lab', peak_rss_mb: null, status: 'done', text: ' was a café owner', tokenized_by: 'small' });
      const tokenizer = await loadTokenizer(join(home, 'src-small'));
      expect(remote.token_ids).toEqual(tokenizer.encode(' was a café owner'));
      const context = tokenizer.encode(PROMPT);
      const rows = referenceLogits(references.small!, [...context, ...remote.token_ids]);
      const lps = remote.token_ids.map((token, i) => referenceLogSoftmax(rows[context.length - 1 + i]!)[token]!);
      const expected = Math.exp(-lps.reduce((a, b) => a + b, 0) / lps.length);
      expect(Math.abs(out.perplexity[0]![1]! - expected) / expected).toBeLessThan(1e-4);
      // The server's row: the recording's log-probabilities of the tokens after the prompt.
      const block = (JSON.parse(readRecording('vllm', 'completions-echo-score.json')) as { choices: { logprobs: { token_logprobs: (number | null)[]; text_offset: number[] } }[] }).choices[0]!.logprobs;
      const served = block.token_logprobs.filter((_, i) => block.text_offset[i]! >= PROMPT.length) as number[];
      expect(out.perplexity[1]![1]).toBeCloseTo(Math.exp(-served.reduce((a, b) => a + b, 0) / served.length), 10);
    } finally {
      await vllm.close();
    }
  }, 120_000);

  it('refuses a remote column on an engine Settings does not have, with exit code 2', async () => {
    let stderr = '';
    const code = await runCli(['compare', '--models', 'small,remote:nowhere/gpt2', '--prompt', 'x'], { stdout: () => {}, stderr: (t) => void (stderr += t), interrupt: new AbortController().signal, env: { INKWELL_HOME: home } });
    expect(code).toBe(2);
    expect(stderr).toMatch(/no remote engine named "nowhere"/);
  });
});
