/**
 * Issue 7 phase B, the browser's half of the back end's work: History exports
 * every match of its search and filters, entries say which document they came
 * from (and open it), documents take their first line as their title until
 * named (and can be handed back to it), the Documents list shows word counts,
 * busy / read-only / disk-full errors say what happened and what to do with
 * nothing lost, and a generation whose `done` was lost while the WebSocket
 * reconnected is brought up to date through generate.get (issue 6 §3.8).
 *
 * The read-only and disk-full faults are the server's own error responses
 * (kind, HTTP status and wording from src/main/common/errors.ts) put on the
 * wire with page.route: a full disk cannot be made on demand here, and the
 * suites run as root, for whom a read-only file is still writable.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page, Route } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../../src/shared/api';
import { makeRandomCheckpoint } from '../helpers/checkpoint-factory';
import { browserUnavailableReason, launchChromium } from './helpers/browser';
import { assertBuilt, callApi, repoRoot, startServe, type ServeProcess } from './helpers/serve-process';
import { countWords } from './helpers/texts';
import { createWorkspace, tinyModel, type Workspace } from './helpers/workspace';
import { candidateCards, candidatesPanel, candidatesStatus, continueAndWait, cursorToEnd, editor, editorText, openApp, poll, setNumber, waitForCandidates, waitForDocument, waitUntilSaved, type AppPage } from './helpers/write-page';

const unavailable = browserUnavailableReason();
const skipReason = process.env['INKWELL_REQUIRE_BROWSER'] === '1' ? null : unavailable;

/** Chromium's console line for an error response a test causes on purpose (its status). */
const errorStatusNoise = (status: number): RegExp => new RegExp(`Failed to load resource: the server responded with a status of ${status}\\b`);

/**
 * With INKWELL_SCREENSHOTS=1, keeps a picture of the state a test reached in docs/screenshots (the error
 * notices need the real server's refusals, which the demo back end has none of).
 */
async function keepScreenshot(page: Page, name: string): Promise<void> {
  if (process.env['INKWELL_SCREENSHOTS'] !== '1') return;
  const dir = join(repoRoot, 'docs', 'screenshots');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`) });
}

/** Answers one API call with an error response as the server writes it. */
function refuseWith(status: number, kind: string, message: string): (route: Route) => Promise<void> {
  return (route) => route.fulfill({ status, contentType: 'application/json; charset=utf-8', body: JSON.stringify({ error: { kind, message } }) });
}

describe.skipIf(skipReason !== null)('history and documents (issue 7, phase B)', () => {
  let workspace: Workspace;
  /** The server's home folder (HOME), where `~` in an import path points. */
  let userHome: string;
  let server: ServeProcess;
  let browser: Browser;
  let app: AppPage | null = null;
  /** The console line the running test expects (an error status it causes), if any. */
  let expectedNoise: RegExp | null = null;

  beforeAll(async () => {
    if (unavailable) throw new Error(`browser e2e cannot run: ${unavailable}`);
    assertBuilt();
    workspace = await createWorkspace();
    userHome = mkdtempSync(join(tmpdir(), 'inkwell-e2e-user-home-'));
    server = await startServe(workspace.home, undefined, { HOME: userHome });
    browser = await launchChromium();
  });

  afterEach(async () => {
    const errors = (app?.errors ?? []).filter((e) => !expectedNoise?.test(e));
    if (app) await waitUntilSaved(app.page);
    await app?.context.close();
    app = null;
    expectedNoise = null;
    expect(errors).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    workspace?.remove();
    if (userHome) rmSync(userHome, { recursive: true, force: true });
  });

  async function openWith(documents: { title?: string; content: string }[]): Promise<AppPage> {
    for (const doc of documents) await callApi(server, 'documents.create', doc);
    app = await openApp(browser, server);
    const newest = documents.at(-1);
    if (newest) await waitForDocument(app.page, newest.content);
    return app;
  }

  /** Runs one short generation through the API (as a script would) and waits for its history entry. */
  async function generateEntry(prompt: string, documentId: number | null, memory = ''): Promise<void> {
    const { generationId } = await callApi(server, 'generate.start', {
      modelId: tinyModel.id,
      prompt,
      memory,
      documentId,
      params: { maxNewTokens: 1, numReturnSequences: 1, seed: 1 },
    });
    await expect.poll(async () => (await callApi(server, 'generate.get', { generationId })).status, poll).toBe('done');
  }

  /** History's count line ("55 entries match …"). */
  function historyCount(page: Page) {
    return page.getByRole('status').filter({ hasText: /\d+ entr(y|ies)/ });
  }

  async function showHistory(page: Page): Promise<void> {
    await page.getByRole('link', { name: 'History' }).click();
    await historyCount(page).waitFor();
  }

  it('a filtered export writes every match, not the loaded page', async () => {
    // 55 matches (more than the page of 50 History loads) and 4 that the search leaves out.
    for (let i = 0; i < 55; i += 1) await generateEntry(`Lantern entry ${i}.`, null);
    for (let i = 0; i < 4; i += 1) await generateEntry(`Harbour entry ${i}.`, null);
    const { page } = await openWith([{ title: 'Exports', content: 'Nothing here.' }]);
    await showHistory(page);
    await page.getByRole('searchbox', { name: 'Search history' }).fill('lantern');
    await expect.poll(async () => (await historyCount(page).textContent()) ?? '', poll).toMatch(/^55 entries/);
    expect(await page.getByRole('article').count()).toBe(50);
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export JSON' }).click();
    const file = await (await download).path();
    const exported = JSON.parse(readFileSync(file, 'utf8')) as HistoryEntry[];
    expect(exported).toHaveLength(55);
    expect(exported.every((entry) => entry.prompt.startsWith('Lantern entry'))).toBe(true);
    expect(new Set(exported.map((entry) => entry.prompt)).size).toBe(55);
    // The count says so before anyone exports.
    expect(await historyCount(page).textContent()).toMatch(/^55 entries match \(50 shown; an export writes all 55\)/);
  });

  it('History search finds quoted phrases, word* prefixes and Memory text, and marks what it found', async () => {
    await generateEntry('The gulls wheeled over the harbour wall.', null);
    await generateEntry('Over and under, the the rope went.', null);
    await generateEntry('Outlines of the linen shop at dusk.', null, 'The cartographer keeps a ledger of storms.');
    const { page } = await openWith([{ title: 'Searching', content: 'Search comes next.' }]);
    await showHistory(page);
    const search = page.getByRole('searchbox', { name: 'Search history' });
    const entries = page.getByRole('list', { name: 'History entries' }).getByRole('article');
    const marks = () => entries.locator('mark').allTextContents();

    /** Searches and waits until the one match is the entry holding `text` (the search is debounced). */
    const searchFor = async (query: string, text: string) => {
      await search.fill(query);
      const settled = async () => /^1 entry\b/.test((await historyCount(page).textContent()) ?? '') && ((await entries.first().textContent()) ?? '').includes(text);
      await expect.poll(settled, poll).toBe(true);
      expect(await entries.count()).toBe(1);
    };

    await searchFor('"over the"', 'The gulls wheeled over the harbour wall.');
    expect(await marks()).toEqual(['over the']);
    await searchFor('line*', 'linen shop');
    expect(await marks()).toEqual(['linen']);
    await searchFor('cartographer', 'Outlines of the linen shop');
    const memory = entries.first().locator('details', { hasText: 'Memory' });
    expect(await memory.getAttribute('open')).not.toBeNull();
    expect(await memory.locator('mark').allTextContents()).toEqual(['cartographer']);
  });

  it('a From date later than the To date says so instead of showing an empty list', async () => {
    const { page } = await openWith([{ title: 'Dates', content: 'Dates come next.' }]);
    await showHistory(page);
    await page.getByLabel('From', { exact: true }).fill('2026-05-02');
    await page.getByLabel('To', { exact: true }).fill('2026-05-01');
    const alert = page.getByRole('alert').filter({ hasText: 'From date is later than the To date' });
    await expect.poll(() => alert.count(), poll).toBe(1);
    expect(await page.getByRole('list', { name: 'History entries' }).getByRole('article').count()).toBe(0);
    await page.getByLabel('To', { exact: true }).fill('');
    await expect.poll(() => alert.count(), poll).toBe(0);
  });

  it('the import field takes ~ and relative paths from the server’s home folder', async () => {
    await makeRandomCheckpoint(join(userHome, 'models', 'gpt2-tilde'), tinyModel.checkpoint);
    const { page } = await openWith([{ title: 'Imports', content: 'Models come next.' }]);
    await page.getByRole('link', { name: 'Models' }).click();
    const form = page.getByRole('form', { name: 'Import a folder' });
    for (const [path, id] of [['~/models/gpt2-tilde', 'tilde'], ['models/gpt2-tilde', 'relative']] as const) {
      await form.getByRole('textbox', { name: 'Folder path' }).fill(path);
      await form.getByRole('textbox', { name: 'Model id' }).fill(id);
      await form.getByRole('button', { name: 'Import' }).click();
      // The import runs as a background task; the model is there once it ends.
      await expect.poll(async () => (await callApi(server, 'models.list', {})).map((m) => m.id), poll).toContain(id);
    }
    const models = await callApi(server, 'models.list', {});
    expect(models.map((m) => m.id)).toEqual(expect.arrayContaining(['tilde', 'relative']));
  });

  it('a history entry names its document, and opening it shows that document in Write', async () => {
    const first = await callApi(server, 'documents.create', { title: 'The Keeper’s Log', content: 'The keeper wrote by lamplight.' });
    await generateEntry('The keeper wrote by lamplight.', first.id);
    const { page } = await openWith([{ title: 'Something else', content: 'A different text is open.' }]);
    await showHistory(page);
    await page.getByRole('searchbox', { name: 'Search history' }).fill('lamplight');
    await expect.poll(async () => (await historyCount(page).textContent()) ?? '', poll).toMatch(/^1 entry\b/);
    const card = page.getByRole('article').filter({ hasText: 'The keeper wrote by lamplight.' }).first();
    await expect.poll(async () => (await card.textContent()) ?? '', poll).toContain('From “The Keeper’s Log”');
    await card.getByRole('button', { name: 'Open its document' }).click();
    await expect.poll(() => editorText(page), poll).toBe('The keeper wrote by lamplight.');
    expect(await page.getByRole('textbox', { name: 'Document title' }).inputValue()).toBe('The Keeper’s Log');
  });

  it('an entry whose document was deleted says so and History stays in view', async () => {
    const doc = await callApi(server, 'documents.create', { title: 'Soon gone', content: 'A draft about to be deleted.' });
    await generateEntry('A draft about to be deleted.', doc.id);
    const { page } = await openWith([{ title: 'Stays', content: 'This one stays.' }]);
    expectedNoise = errorStatusNoise(404);
    await showHistory(page);
    await page.getByRole('searchbox', { name: 'Search history' }).fill('"about to be deleted"');
    // The search has run (it is debounced), so no reload comes after the deletion below.
    await expect.poll(async () => (await historyCount(page).textContent()) ?? '', poll).toMatch(/^1 entry\b/);
    const card = page.getByRole('article').filter({ hasText: 'A draft about to be deleted.' }).first();
    await card.getByRole('button', { name: 'Open its document' }).waitFor();
    await callApi(server, 'documents.delete', { id: doc.id });
    await card.getByRole('button', { name: 'Open its document' }).click();
    await expect.poll(async () => (await card.textContent()) ?? '', poll).toContain('From a document that has since been deleted (“Soon gone”)');
    expect(await card.getByRole('button', { name: 'Open its document' }).count()).toBe(0);
    await keepScreenshot(page, 'history-entry-document-deleted');
    await expect.poll(async () => (await page.getByRole('region', { name: 'Notices' }).textContent()) ?? '', poll).toContain('That document no longer exists');
    expect(await page.getByRole('searchbox', { name: 'Search history' }).isVisible()).toBe(true);
    await page.getByRole('link', { name: 'Write' }).click();
    expect(await editorText(page)).toBe('This one stays.');
  });

  it('a new document takes its first line as its title, live, until named; “Use first line as title” hands it back', async () => {
    const { page } = await openWith([{ title: 'Older', content: 'An older document.' }]);
    const title = page.getByRole('textbox', { name: 'Document title' });
    const list = page.getByRole('region', { name: 'Documents' });
    await page.getByRole('button', { name: 'New' }).click();
    await expect.poll(() => title.inputValue(), poll).toBe('Untitled');
    await editor(page).focus();
    await page.keyboard.type('Night at Carrow Point');
    await expect.poll(() => title.inputValue(), poll).toBe('Night at Carrow Point');
    await page.keyboard.press('Enter');
    await page.keyboard.type('The lamp went out at nine.');
    await waitUntilSaved(page);
    await expect.poll(async () => (await list.getByRole('listitem').allTextContents()).join('|'), poll).toMatch(/Night at Carrow Point[^|]*10 words · title from first line/);
    expect(await page.getByRole('button', { name: 'Use first line as title' }).count()).toBe(0);

    await title.fill('Chapter One');
    await title.press('Enter');
    await waitUntilSaved(page);
    await editor(page).focus();
    await page.keyboard.press('Control+Home');
    await page.keyboard.type('Dark ');
    await waitUntilSaved(page);
    expect(await title.inputValue()).toBe('Chapter One');
    const named = (await callApi(server, 'documents.list', {})).find((d) => d.title === 'Chapter One');
    expect(named).toMatchObject({ autoTitle: false, words: 11 });

    await page.getByRole('button', { name: 'Use first line as title' }).click();
    await expect.poll(() => title.inputValue(), poll).toBe('Dark Night at Carrow Point');
    await waitUntilSaved(page);
    await expect.poll(async () => (await callApi(server, 'documents.get', { id: named!.id })).title, poll).toBe('Dark Night at Carrow Point');
    expect((await callApi(server, 'documents.get', { id: named!.id })).autoTitle).toBe(true);
    expect(await page.getByRole('button', { name: 'Use first line as title' }).count()).toBe(0);
  });

  it('the Documents list shows each document’s word count and sorts the longest first', async () => {
    const docs = [
      { title: 'Short one', content: 'Three words here.' },
      { title: 'Long one', content: 'One two three four five six seven eight nine ten eleven twelve.' },
      { title: 'Middle one', content: 'Just a few more words than three.' },
    ];
    const { page } = await openWith(docs);
    const list = page.getByRole('region', { name: 'Documents' });
    for (const doc of docs) {
      await expect.poll(async () => (await list.getByRole('button', { name: doc.title }).textContent()) ?? '', poll).toContain(`${countWords(doc.content)} words`);
    }
    await list.getByRole('combobox', { name: 'Sort documents' }).selectOption({ label: 'Longest first' });
    const order = async () => (await list.getByRole('listitem').allTextContents()).map((t) => docs.find((d) => t.includes(d.title))?.title).filter(Boolean);
    await expect.poll(async () => (await order()).slice(0, 3), poll).toEqual(['Long one', 'Middle one', 'Short one']);
  });

  it('a busy server is a warning to try again in its own words; the text and the Continue button are left as they were', async () => {
    const { page } = await openWith([{ title: 'Busy', content: 'The machine is full.' }]);
    expectedNoise = errorStatusNoise(429);
    const message = 'Inkwell is busy: 16 sequence(s) are being generated and 4 request(s) are waiting; try again when one finishes';
    await page.route('**/api/call/generate.start', refuseWith(429, 'busy', message));
    await cursorToEnd(page);
    await page.getByRole('button', { name: 'Continue' }).click();
    const notices = page.getByRole('region', { name: 'Notices' });
    const warning = notices.getByRole('status').filter({ hasText: 'Inkwell is busy' });
    await expect.poll(() => warning.count(), poll).toBe(1);
    expect(await warning.textContent()).toContain(`${message}.`);
    expect(await notices.getByRole('alert').count()).toBe(0);
    // Nothing ran: no empty cards, and the panel says what to do.
    await expect.poll(async () => (await candidatesPanel(page).textContent()) ?? '', poll).toContain('nothing was generated');
    expect(await candidateCards(page).count()).toBe(0);
    await keepScreenshot(page, 'notice-busy');
    expect(await editorText(page)).toBe('The machine is full.');
    await expect.poll(() => page.getByRole('button', { name: 'Continue' }).isEnabled(), poll).toBe(true);
    // Once the server has room, the same button works.
    await page.unroute('**/api/call/generate.start');
    await setNumber(page, 'Candidates', 1);
    await cursorToEnd(page);
    await continueAndWait(page);
    expect(await candidateCards(page).count()).toBe(1);
  });

  for (const fault of [
    { kind: 'disk_full', status: 507, message: 'Inkwell cannot save: the disk is full (SQLITE_FULL: database or disk is full)', advice: 'Free some space on that disk' },
    { kind: 'read_only', status: 503, message: 'Inkwell cannot save: its data is read-only here (SQLITE_READONLY: attempt to write a readonly database)', advice: 'keep a copy of new text (Save .txt)' },
  ]) {
    it(`a ${fault.kind} save gets one banner saying what happened and what to do; the text is kept and saved once it can be`, async () => {
      const { page } = await openWith([{ title: `Fault ${fault.kind}`, content: 'Words worth keeping.' }]);
      expectedNoise = errorStatusNoise(fault.status);
      let refused = 0;
      await page.route('**/api/call/documents.save', async (route) => {
        refused += 1;
        await refuseWith(fault.status, fault.kind, fault.message)(route);
      });
      await cursorToEnd(page);
      await page.keyboard.type(' More words.');
      const notices = page.getByRole('region', { name: 'Notices' });
      const banner = notices.getByRole('alert').filter({ hasText: fault.message });
      await expect.poll(() => banner.count(), poll).toBe(1);
      expect(await banner.textContent()).toContain(fault.advice);
      expect(await banner.textContent()).toContain(`Could not save “Fault ${fault.kind}”`);
      expect(await banner.textContent()).not.toMatch(/internal/i);
      // Another edit fails the same way: still one banner, and the editor keeps every word.
      await page.keyboard.type(' Even more.');
      await expect.poll(() => refused, poll).toBeGreaterThanOrEqual(2);
      expect(await notices.getByRole('alert').count()).toBe(1);
      expect(await editorText(page)).toBe('Words worth keeping. More words. Even more.');
      expect(await page.getByRole('status', { name: 'Save status' }).textContent()).toMatch(/^Not saved: .*\(retrying\)/);
      await keepScreenshot(page, `notice-${fault.kind.replace('_', '-')}`);

      await page.unroute('**/api/call/documents.save');
      await page.keyboard.type('!');
      await waitUntilSaved(page);
      await expect.poll(async () => (await notices.textContent()) ?? '', poll).toContain(`“Fault ${fault.kind}” is saved again.`);
      expect(await notices.getByRole('alert').count()).toBe(0);
      const saved = (await callApi(server, 'documents.list', {})).find((d) => d.title === `Fault ${fault.kind}`);
      expect((await callApi(server, 'documents.get', { id: saved!.id })).content).toBe('Words worth keeping. More words. Even more.!');
    });
  }

  it('a generation whose done was lost while the WebSocket reconnected is finished from generate.get', async () => {
    const { page } = await openWith([{ title: 'Reconnect', content: 'The line went dead for a moment.' }]);
    let connections = 0;
    let dropped = 0;
    await page.routeWebSocket(/\/api\/events/, (ws) => {
      connections += 1;
      const first = connections === 1;
      const upstream = ws.connectToServer();
      upstream.onMessage((message) => {
        const event = JSON.parse(String(message)) as { channel: string; event?: { type: string } };
        if (first && event.channel === 'generation' && event.event?.type === 'done') {
          // The done is lost with the connection: the page's socket closes and the client reconnects.
          dropped += 1;
          void ws.close({ code: 4000, reason: 'test: connection lost' });
          void upstream.close();
          return;
        }
        ws.send(message);
      });
      ws.onMessage((message) => upstream.send(message));
    });
    // The route applies to sockets opened from now on: reload so the app's socket goes through it.
    await page.reload();
    await editor(page).waitFor();
    await waitForDocument(page, 'The line went dead for a moment.');
    await setNumber(page, 'Candidates', 2);
    await setNumber(page, 'Max new tokens', 6);
    await cursorToEnd(page);
    await page.getByRole('button', { name: 'Continue' }).click();
    await waitForCandidates(page);
    expect(dropped).toBe(1);
    expect(connections).toBeGreaterThanOrEqual(2);
    expect(await candidatesStatus(page).textContent()).toMatch(/2 candidates ready/);
    // What the cards show is what the server stored for that generation.
    const [entry] = (await callApi(server, 'history.list', { query: '"went dead for a moment"', limit: 1 })).entries;
    const cards = await candidateCards(page).allTextContents();
    for (const candidate of entry!.candidates) expect(cards.some((text) => text.includes(candidate.text.trim().slice(0, 12)))).toBe(true);
  });
});
