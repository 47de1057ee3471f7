/**
 * Issue 11's "done when": two Inkwell processes on 127.0.0.1, one serving (with a tiny random model),
 * the other using it as a remote engine added in Settings → Remote engines; in a browser on the second,
 * the remote model is picked, generates candidates (streamed), is stopped mid-stream keeping its text,
 * and both runs are in its history. Then (the rest of issue 11) a Compare run with the remote model as a
 * column beside the second Inkwell's own local model, and the Inspect page given the remote model.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { remoteKeyVariable } from '../../src/shared/remote-engines';
import { browserUnavailableReason, collectPageErrors, launchChromium } from './helpers/browser';
import { assertBuilt, callApi, startServe, type ServeProcess } from './helpers/serve-process';
import { createWorkspace, tinyModel, type Workspace } from './helpers/workspace';
import { candidateCards, candidatesPanel, candidatesStatus, continueAndWait, cursorToEnd, editor, poll, setNumber, waitUntilSaved, wideViewport } from './helpers/write-page';

const unavailable = browserUnavailableReason();
const skipReason = process.env['INKWELL_REQUIRE_BROWSER'] === '1' ? null : unavailable;
const REMOTE_MODEL = 'remote:desk/tiny';
/**
 * The served model: the tiny shape with GPT-2's 1024 positions, so that a long run cannot end at the
 * context window before Stop arrives (with 128 positions it ended there first, as 'length').
 */
const SERVED = { ...tinyModel, checkpoint: { ...tinyModel.checkpoint, nPositions: 1024 } };

/** The using Inkwell's own model: the same shape as the served one, other random weights (so the columns differ). */
const LOCAL = { id: 'local', checkpoint: { ...tinyModel.checkpoint, seed: 11 } };
const shotsDir = process.env['INKWELL_SCREENSHOTS'] === '1' ? join(import.meta.dirname, '..', '..', 'docs', 'screenshots') : mkdtempSync(join(tmpdir(), 'inkwell-remote-shots-'));

describe.skipIf(skipReason !== null)('one Inkwell as the remote engine of another', () => {
  let serving: Workspace;
  let using: Workspace;
  let server: ServeProcess;
  let client: ServeProcess;
  let browser: Browser;
  let page: Page | null = null;
  let errors: string[] = [];

  beforeAll(async () => {
    if (unavailable) throw new Error(`browser e2e cannot run: ${unavailable}`);
    assertBuilt();
    [serving, using] = await Promise.all([createWorkspace([SERVED]), createWorkspace([LOCAL])]);
    server = await startServe(serving.home);
    // Serve mode has no keychain: the key of engine "desk" comes from its environment variable.
    client = await startServe(using.home, 60_000, { [remoteKeyVariable('desk')]: server.token });
    browser = await launchChromium();
  });

  afterEach(async () => {
    if (page) await waitUntilSaved(page);
    await page?.context().close();
    page = null;
    expect(errors).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([client?.stop(), server?.stop()]);
    serving?.remove();
    using?.remove();
  });

  it('adds the engine in Settings, writes with its model, stops mid-stream keeping the text, and keeps both in history', async () => {
    const context = await browser.newContext({ viewport: wideViewport });
    page = await context.newPage();
    errors = collectPageErrors(page);
    await page.goto(client.url);
    await editor(page).waitFor();

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    const panel = page.getByRole('region', { name: 'Remote engines' });
    await panel.getByRole('button', { name: 'Add remote engine' }).click();
    const form = panel.getByRole('form', { name: 'Add remote engine' });
    await form.getByRole('textbox', { name: 'Name' }).fill('desk');
    await form.getByRole('textbox', { name: 'Base URL' }).fill(`${server.origin}/v1`);
    // No key field in serve mode: the form says which variable to set instead.
    expect(await form.getByLabel('API key').count()).toBe(0);
    await expect.poll(() => form.textContent(), poll).toContain('INKWELL_REMOTE_KEY_<NAME>');
    await form.getByRole('button', { name: 'Save engine' }).click();
    const engine = panel.getByRole('listitem', { name: 'Remote engine desk' });
    await expect.poll(() => engine.textContent(), poll).toContain('Key from INKWELL_REMOTE_KEY_DESK');
    await engine.getByRole('button', { name: 'Test connection' }).click();
    await expect.poll(() => engine.getByRole('status').textContent(), poll).toMatch(/Connected to inkwell .* 1 model/);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Write' }).click();
    const picker = page.getByRole('combobox', { name: 'Model' });
    await expect.poll(() => picker.getByRole('option', { name: REMOTE_MODEL }).count(), poll).toBe(1);
    await picker.selectOption(REMOTE_MODEL);
    await expect.poll(() => picker.inputValue(), poll).toBe(REMOTE_MODEL);
    await editor(page).fill('The lighthouse keeper climbed the stairs');
    await setNumber(page, 'Candidates', 2);
    await setNumber(page, 'Max new tokens', 8);
    await cursorToEnd(page);
    await continueAndWait(page);
    expect(await candidateCards(page).count()).toBe(2);

    // A long run, stopped once text has streamed: what arrived stays.
    await setNumber(page, 'Candidates', 1);
    await setNumber(page, 'Max new tokens', 1000);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(async () => ((await candidateCards(page!).first().textContent()) ?? '').trim().length, poll).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(async () => (await candidatesStatus(page!).textContent()) ?? '', poll).toMatch(/ready|stopped/i);

    const history = await callApi(client, 'history.list', {});
    expect(history.entries.map((e) => [e.modelId, e.device, e.candidates.length])).toEqual([
      [REMOTE_MODEL, 'remote', 1],
      [REMOTE_MODEL, 'remote', 2],
    ]);
    const stopped = history.entries[0]?.candidates[0];
    expect(stopped?.finishReason).toBe('cancelled');
    expect(stopped?.text.length).toBeGreaterThan(0);
    // The serving Inkwell kept no history of its own: /v1 requests are the client's to save.
    expect((await callApi(server, 'history.list', {})).total).toBe(0);
    if (process.env['INKWELL_SCREENSHOTS'] === '1') {
      await page.screenshot({ path: 'docs/screenshots/remote-write.png' });
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
      await page.screenshot({ path: 'docs/screenshots/settings-remote-engines.png' });
    }
  });

  it('compares the remote model as a column beside a local one: streamed on its server, scored both ways, its memory and device named as remote', async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1100 } });
    page = await context.newPage();
    errors = collectPageErrors(page);
    await page.goto(client.url);
    await editor(page).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Compare' }).click();
    await page.getByRole('textbox', { name: 'Comparison prompt' }).fill('The lighthouse keeper climbed the stairs');
    await page.getByRole('combobox', { name: 'Column 1 model' }).selectOption(LOCAL.id);
    await page.getByRole('combobox', { name: 'Column 2 model' }).selectOption(REMOTE_MODEL);
    // A remote column has no precision or device of ours to pick.
    await page.getByRole('note', { name: 'Column 2 runs remotely' }).waitFor(poll);
    expect(await page.getByRole('combobox', { name: 'Column 2 device' }).count()).toBe(0);
    await page.getByRole('spinbutton', { name: 'Max new tokens' }).fill('12');
    await page.getByRole('spinbutton', { name: 'Max new tokens' }).press('Tab');
    await page.getByRole('spinbutton', { name: 'Seed (shared)' }).fill('2026');
    await page.getByRole('spinbutton', { name: 'Seed (shared)' }).press('Tab');
    await page.getByRole('button', { name: 'Run comparison', exact: true }).click();
    const status = page.getByRole('status', { name: 'Comparison status' });
    await expect.poll(async () => (await status.textContent()) ?? '', { ...poll, timeout: 120_000 }).toMatch(/Saved to History as comparison \d+/);

    const figures = page.getByRole('region', { name: `Column 2: ${REMOTE_MODEL}` }).getByRole('definition');
    await expect.poll(async () => (await figures.allTextContents()).join(' | '), poll).toContain('remote: desk');
    const matrix = page.getByRole('table', { name: 'Perplexity matrix' });
    // Inkwell's /v1 scores text (echo + logprobs, max_tokens 0): every cell is a number, none "not scored".
    await expect.poll(async () => (await matrix.getByRole('cell').allTextContents()).filter((t) => /^\d+\.\d\d$/.test(t)).length, poll).toBe(4);
    await page.screenshot({ path: join(shotsDir, 'compare-remote.png'), fullPage: true });

    const saved = (await callApi(client, 'compare.list', { modelId: REMOTE_MODEL })).entries[0];
    expect(saved?.columns.map((c) => [c.spec.modelId, c.status, c.device, c.lane, c.peakRssBytes])).toEqual([
      [LOCAL.id, 'done', 'cpu', 'cpu', expect.any(Number)],
      [REMOTE_MODEL, 'done', 'remote', 'remote:desk', null],
    ]);
    const remoteColumn = saved!.columns[1]!;
    expect(remoteColumn.text.length).toBeGreaterThan(0);
    expect(remoteColumn.tokenizedBy).toBe(LOCAL.id);
    expect(remoteColumn.ttftMs).toBeGreaterThan(0);
    // A probability is at most 1, so a perplexity is at least 1.
    for (const row of saved!.perplexity) for (const p of row) expect(p).toBeGreaterThanOrEqual(1);
    expect(saved!.scoreNotes).toBeUndefined();
    // The serving Inkwell ran the remote column with the same seed: its own generation of the same request writes the same text.
    const direct = await fetch(`${server.origin}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
      body: JSON.stringify({ model: 'tiny', prompt: saved!.prompt, max_tokens: 12, seed: saved!.seed, temperature: saved!.params.temperature, top_k: saved!.params.topK, top_p: saved!.params.topP, repetition_penalty: saved!.params.repetitionPenalty }),
    });
    expect(((await direct.json()) as { choices: { text: string }[] }).choices[0]?.text).toBe(remoteColumn.text);
  });

  it('the Inspect page given the remote model says it needs a local model, offers the local one, and says a candidate whose server sent no token probabilities has none', async () => {
    const context = await browser.newContext({ viewport: wideViewport });
    page = await context.newPage();
    errors = collectPageErrors(page);
    await page.goto(client.url);
    await editor(page).waitFor();
    const picker = page.getByRole('combobox', { name: 'Model' });
    await expect.poll(() => picker.getByRole('option', { name: REMOTE_MODEL }).count(), poll).toBe(1);
    await picker.selectOption(REMOTE_MODEL);
    await editor(page).fill('The harbour at dawn was quiet, and the boats');
    await setNumber(page, 'Candidates', 1);
    await setNumber(page, 'Max new tokens', 8);
    await cursorToEnd(page);
    await continueAndWait(page);
    await candidatesPanel(page).getByRole('button', { name: 'Inspect candidate 1' }).click();

    // Inkwell's /v1 is not asked for logprobs while streaming (it would hold the text back): the panel says none came.
    await expect.poll(async () => (await page!.getByRole('note', { name: 'Token probabilities' }).textContent()) ?? '', poll).toContain('this server returned no token probabilities');
    expect(await page.getByRole('group', { name: 'Generated tokens coloured by their stored probability' }).count()).toBe(0);
    const remote = page.getByRole('region', { name: 'Remote model' });
    await expect.poll(async () => (await remote.textContent()) ?? '', poll).toContain(`${REMOTE_MODEL} is a remote model: its server sends back only text`);
    await page.getByRole('tab', { name: 'Head view' }).click();
    await remote.getByRole('button', { name: `Inspect with ${LOCAL.id}` }).click();
    await page.getByRole('note', { name: 'Inspecting with a local model' }).waitFor(poll);
    await expect.poll(async () => (await page!.getByRole('status', { name: 'Inspect status' }).textContent()) ?? '', { ...poll, timeout: 60_000 }).toMatch(/layers × \d+ heads on cpu/);
    expect(await remote.count()).toBe(0);
  });
});
