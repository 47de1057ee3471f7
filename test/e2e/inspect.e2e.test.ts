/**
 * The Inspect panel (issue 8) in a browser against `inkwell serve` with a small random model:
 * opened from an editor selection, a candidate and a history entry; the layer and heads changed, a
 * token hovered, the model view opened and one of its heads clicked, every export downloaded and
 * its JSON checked. With INKWELL_SCREENSHOTS=1 it also refreshes docs/screenshots/inspect-*.png.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { browserUnavailableReason, launchChromium } from './helpers/browser';
import { assertBuilt, callApi, repoRoot, startServe, type ServeProcess } from './helpers/serve-process';
import { createWorkspace, type Workspace } from './helpers/workspace';
import { candidatesPanel, continueAndWait, cursorToEnd, editor, openApp, poll, waitUntilSaved, type AppPage } from './helpers/write-page';

const unavailable = browserUnavailableReason();
const skipReason = process.env['INKWELL_REQUIRE_BROWSER'] === '1' ? null : unavailable;
const screenshots = process.env['INKWELL_SCREENSHOTS'] === '1';
const text = 'I read a good novel. The lighthouse keeper climbed the stairs to trim the wick, because that was what you did. Café Erdős';

describe.skipIf(skipReason !== null)('the Inspect panel', () => {
  let workspace: Workspace;
  let server: ServeProcess;
  let browser: Browser;
  let app: AppPage | null = null;

  beforeAll(async () => {
    if (unavailable) throw new Error(`browser e2e cannot run: ${unavailable}`);
    assertBuilt();
    workspace = await createWorkspace([{ id: 'tiny', checkpoint: { nLayer: 4, nEmbd: 64, nHead: 4, nPositions: 128, seed: 7 } }]);
    // A generated WordPiece vocabulary (bert-base-uncased's own files cannot be fetched here).
    const bertDir = join(workspace.home, 'tokenizers', 'bert-base-uncased');
    mkdirSync(bertDir, { recursive: true });
    const words = 'i read a good nov ##el . the light ##house keeper climbed stairs to trim wick , because that was what you did cafe er ##do ##s';
    writeFileSync(join(bertDir, 'vocab.txt'), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...words.split(' ')].join('\n'));
    server = await startServe(workspace.home);
    browser = await launchChromium();
  });

  afterEach(async () => {
    const errors = app?.errors ?? [];
    if (app) await waitUntilSaved(app.page);
    await app?.context.close();
    app = null;
    expect(errors).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    workspace?.remove();
  });

  const shoot = async (page: Page, name: string): Promise<void> => {
    if (screenshots) await page.screenshot({ path: join(repoRoot, 'docs', 'screenshots', `${name}.png`) });
  };
  const status = (page: Page) => page.getByRole('status', { name: 'Inspect status' });
  const headView = (page: Page) => page.getByRole('img', { name: /^Head view/ });

  it('opens from a selection; layer, heads, hover, model view and every export work', async () => {
    await callApi(server, 'documents.create', { title: 'Keeper', content: text });
    app = await openApp(browser, server, { width: 1440, height: 960 });
    const { page } = app;
    await editor(page).focus();
    await page.keyboard.press('Control+a');
    await page.getByRole('button', { name: 'Inspect selection' }).click();

    await expect.poll(() => page.getByRole('radio', { name: 'Selection' }).isChecked(), poll).toBe(true);
    await expect(headView(page).waitFor(poll)).resolves.toBeUndefined();
    expect(await headView(page).getAttribute('aria-label')).toMatch(/^Head view: layer 1, 1 head, \d+ tokens$/);
    await expect.poll(async () => (await status(page).textContent()) ?? '', poll).toMatch(/4 layers × 4 heads on cpu/);

    await page.getByRole('combobox', { name: 'Layer' }).selectOption({ value: '2' });
    await expect.poll(() => headView(page).getAttribute('aria-label'), poll).toMatch(/^Head view: layer 3, 1 head/);
    await page.getByRole('button', { name: 'Head 2', exact: true }).click();
    await page.getByRole('button', { name: 'Head 4', exact: true }).click();
    expect(await page.getByRole('button', { name: 'Head 2', exact: true }).getAttribute('aria-pressed')).toBe('true');
    await expect.poll(() => headView(page).getAttribute('aria-label'), poll).toMatch(/3 heads/);

    // Hover the fourth query token (left column; rows are 18 px from an 8 px top margin).
    const canvas = headView(page).locator('canvas');
    await canvas.hover({ position: { x: 60, y: 8 + 3 * 18 + 9 } });
    await expect.poll(async () => (await page.getByRole('status', { name: 'Focused token' }).textContent()) ?? '', poll).toMatch(/^What “.+” \(#3\) attends to$/);
    await shoot(page, 'inspect-head');

    const pngDownload = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export PNG' }).click();
    expect((await pngDownload).suggestedFilename()).toBe('inkwell-attention-layer2.png');
    const jsonDownload = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export JSON' }).click();
    const exported = JSON.parse(readFileSync(await (await jsonDownload).path(), 'utf8')) as { layer: number; heads: number[]; tokens: string[]; attentions: number[][][] };
    expect(exported.layer).toBe(2);
    expect(exported.heads).toEqual([0, 1, 3]);
    // Each row is a softmax over the keys up to the query: it sums to 1 (float16, 5 decimals kept).
    for (const head of exported.attentions) {
      expect(head).toHaveLength(exported.tokens.length);
      head.forEach((row, i) => {
        expect(row).toHaveLength(i + 1);
        expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(5e-3);
      });
    }

    await page.getByRole('tab', { name: 'Model view' }).click();
    const modelView = page.getByRole('img', { name: 'Model view: 4 layers × 4 heads' });
    await modelView.waitFor(poll);
    await shoot(page, 'inspect-model');
    const modelPng = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export PNG' }).click();
    expect((await modelPng).suggestedFilename()).toBe('inkwell-attention-overview.png');
    // Layer 2, head 3: thumbnails start at (62, 22), 56 px square with 6 px between them.
    await modelView.locator('canvas').click({ position: { x: 62 + 2 * 62 + 20, y: 22 + 1 * 62 + 20 } });
    expect(await page.getByRole('tab', { name: 'Head view' }).getAttribute('aria-selected')).toBe('true');
    await expect.poll(() => headView(page).getAttribute('aria-label'), poll).toMatch(/^Head view: layer 2, 1 head/);
    expect(await page.getByRole('button', { name: 'Head 3', exact: true }).getAttribute('aria-pressed')).toBe('true');

    await page.getByRole('tab', { name: 'Tokens' }).click();
    const chips = page.getByRole('list', { name: 'GPT-2 tokens' });
    await chips.waitFor(poll);
    // "ő" is two bytes that GPT-2 puts in two tokens: they are grouped under the character.
    await expect.poll(() => chips.locator('.group .char', { hasText: 'ő' }).count(), poll).toBe(1);
    const bert = page.getByRole('list', { name: 'BERT tokens' });
    await expect.poll(async () => (await bert.getByRole('listitem').allTextContents()).slice(0, 7).map((t) => t.replace(/\d+$/, '')), poll).toEqual(['[CLS]', 'i', 'read', 'a', 'good', 'nov', '##el']);
    await page.getByRole('radio', { name: /Prompt actually sent/ }).check();
    await shoot(page, 'inspect-tokens');

    await page.getByRole('radio', { name: 'Selection' }).check();
    await page.getByRole('tab', { name: 'Logit lens' }).click();
    await page.getByRole('table', { name: 'Logit lens' }).waitFor(poll);
    await page.getByRole('combobox', { name: 'Lens layer' }).selectOption({ value: '0' });
    await expect.poll(() => page.getByRole('table', { name: 'Logit lens' }).getByRole('row').count(), poll).toBeGreaterThan(10);
    await shoot(page, 'inspect-lens');

    await page.getByRole('tab', { name: 'Positional encodings' }).click();
    await page.getByRole('img', { name: 'Learned cosine similarity' }).waitFor(poll);
    await shoot(page, 'inspect-positional');
    const pePng = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export PNG' }).click();
    expect((await pePng).suggestedFilename()).toBe('inkwell-positional-encodings.png');
  });

  it('opens from a candidate and a history entry, colours by probability and branches from an alternative', async () => {
    await callApi(server, 'documents.create', { title: 'Branch', content: 'The harbour at dawn was quiet, and the boats' });
    app = await openApp(browser, server);
    const { page } = app;
    await cursorToEnd(page);
    await continueAndWait(page);
    await candidatesPanel(page).getByRole('button', { name: 'Inspect candidate 1' }).click();

    await expect.poll(() => page.getByRole('radio', { name: 'Candidate 1' }).isChecked(), poll).toBe(true);
    const coloured = page.getByRole('group', { name: 'Text coloured by probability' });
    await coloured.waitFor(poll);
    // The candidate keeps each token's probability from the sampler: shown without a pass.
    const stored = page.getByRole('group', { name: 'Generated tokens coloured by their stored probability' });
    await expect.poll(async () => (await stored.textContent()) ?? '', poll).not.toBe('');
    await coloured.getByRole('button').nth(3).hover();
    await expect.poll(() => page.getByRole('region', { name: 'Alternatives' }).getByRole('button', { name: /^Branch with / }).count(), poll).toBe(10);
    await coloured.getByRole('button').nth(3).click();
    await shoot(page, 'inspect-probs');
    await page.getByRole('region', { name: 'Alternatives' }).getByRole('button', { name: /^Branch with / }).first().click();
    const branch = page.getByRole('list', { name: 'Branch candidates' });
    await expect.poll(async () => (await branch.getByRole('listitem').first().textContent()) ?? '', poll).not.toMatch(/^(Writing…)?$/);

    await page.getByRole('link', { name: 'History' }).click();
    const entries = page.getByRole('list', { name: 'History entries' }).getByRole('article');
    await expect.poll(() => entries.count(), poll).toBeGreaterThan(0);
    await entries.last().getByRole('button', { name: 'Inspect candidate 1' }).click();
    await expect.poll(() => page.getByRole('radio', { name: /^History entry \d+, candidate 1$/ }).isChecked(), poll).toBe(true);
    await coloured.waitFor(poll);
    await expect.poll(async () => (await coloured.textContent()) ?? '', poll).toMatch(/^The harbour at dawn was quiet, and the boats/);
    // History kept the probabilities too (candidates.token_logprobs).
    await expect.poll(async () => (await stored.locator('span').count()) > 0, poll).toBe(true);
  });
});
