/**
 * Issue 11's "done when": two Inkwell processes on 127.0.0.1, one serving (with a tiny random model),
 * the other using it as a remote engine added in Settings → Remote engines; in a browser on the second,
 * the remote model is picked, generates candidates (streamed), is stopped mid-stream keeping its text,
 * and both runs are in its history.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { remoteKeyVariable } from '../../src/shared/remote-engines';
import { browserUnavailableReason, collectPageErrors, launchChromium } from './helpers/browser';
import { assertBuilt, callApi, startServe, type ServeProcess } from './helpers/serve-process';
import { createWorkspace, type Workspace } from './helpers/workspace';
import { candidateCards, candidatesStatus, continueAndWait, cursorToEnd, editor, poll, setNumber, waitUntilSaved, wideViewport } from './helpers/write-page';

const unavailable = browserUnavailableReason();
const skipReason = process.env['INKWELL_REQUIRE_BROWSER'] === '1' ? null : unavailable;
const REMOTE_MODEL = 'remote:desk/tiny';

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
    [serving, using] = await Promise.all([createWorkspace(), createWorkspace([])]);
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
    await expect.poll(() => picker.inputValue(), poll).toBe(REMOTE_MODEL);
    await editor(page).fill('The lighthouse keeper climbed the stairs');
    await setNumber(page, 'Candidates', 2);
    await setNumber(page, 'Max new tokens', 8);
    await cursorToEnd(page);
    await continueAndWait(page);
    expect(await candidateCards(page).count()).toBe(2);

    // A long run, stopped once text has streamed: what arrived stays.
    await setNumber(page, 'Candidates', 1);
    await setNumber(page, 'Max new tokens', 400);
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
});
