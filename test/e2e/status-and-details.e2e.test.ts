/**
 * What the app says about itself, and the small things writers notice
 * (issue 7, defects 9–11, the browser's half): status honesty (a stopped
 * server, an inference crash, a bad model id, one size unit), candidate text
 * readable whole, finish reasons in words, the no-repeat n-gram control, a
 * skip link to the editor, Ctrl+S, the Documents list's search, sort and word
 * count, and files that are not text.
 */
import { execFileSync } from 'node:child_process';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { browserUnavailableReason, launchChromium } from './helpers/browser';
import { assertBuilt, callApi, runCli, startServe, type ServeProcess } from './helpers/serve-process';
import { countWords } from './helpers/texts';
import { createWorkspace, type Workspace } from './helpers/workspace';
import {
  candidateCards,
  captureGenerateRequests,
  continueAndWait,
  cursorToEnd,
  editor,
  editorText,
  focusedName,
  openApp,
  poll,
  setNumber,
  waitForDocument,
  waitUntilSaved,
  type AppPage,
} from './helpers/write-page';

const unavailable = browserUnavailableReason();
const skipReason = process.env['INKWELL_REQUIRE_BROWSER'] === '1' ? null : unavailable;

/** Chromium's own lines about a socket or request that failed (expected while the server or its inference process is down). */
const connectionNoise = /WebSocket connection to|ERR_CONNECTION_REFUSED|Failed to load resource|Failed to fetch/;

describe.skipIf(skipReason !== null)('status honesty and details', () => {
  let workspace: Workspace;
  let server: ServeProcess;
  let browser: Browser;
  let app: AppPage | null = null;
  let allowConnectionNoise = false;

  beforeAll(async () => {
    if (unavailable) throw new Error(`browser e2e cannot run: ${unavailable}`);
    assertBuilt();
    workspace = await createWorkspace();
    server = await startServe(workspace.home);
    browser = await launchChromium();
  });

  afterEach(async () => {
    const errors = (app?.errors ?? []).filter((e) => !(allowConnectionNoise && connectionNoise.test(e)));
    if (app && !allowConnectionNoise) await waitUntilSaved(app.page);
    await app?.context.close();
    app = null;
    allowConnectionNoise = false;
    expect(errors).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    workspace?.remove();
  });

  async function openWith(documents: { title: string; content: string }[], viewport?: { width: number; height: number }): Promise<AppPage> {
    for (const doc of documents) await callApi(server, 'documents.create', doc);
    app = await openApp(browser, server, viewport);
    const newest = documents.at(-1);
    if (newest) await waitForDocument(app.page, newest.content);
    return app;
  }

  it('a long candidate can be read whole before accepting it', async () => {
    const { page } = await openWith([{ title: 'Long candidates', content: 'The road went on and on.' }]);
    await setNumber(page, 'Candidates', 2);
    await setNumber(page, 'Max new tokens', 110);
    await cursorToEnd(page);
    await continueAndWait(page);
    const clipped = (index: number) =>
      candidateCards(page)
        .nth(index)
        .getByRole('button')
        .first()
        .evaluate((button) => [...button.querySelectorAll('span')].some((span) => span.scrollHeight > span.clientHeight + 1));
    expect(await clipped(0)).toBe(false);
    await candidateCards(page).nth(1).getByRole('button').first().focus();
    expect(await clipped(1)).toBe(false);
  });

  it('finish reasons are said in words', async () => {
    const { page } = await openWith([{ title: 'Short runs', content: 'Three words only.' }]);
    await setNumber(page, 'Candidates', 1);
    await setNumber(page, 'Max new tokens', 3);
    await cursorToEnd(page);
    await continueAndWait(page);
    expect(await candidateCards(page).first().textContent()).toContain('reached the length limit');
  });

  it('the no-repeat n-gram size has a control and is sent with the request', async () => {
    const { page } = await openWith([{ title: 'No repeats', content: 'Say it once.' }]);
    const requests = captureGenerateRequests(page);
    await setNumber(page, 'No-repeat n-gram size', 3);
    await cursorToEnd(page);
    await continueAndWait(page);
    expect(requests.at(-1)?.['params']).toMatchObject({ noRepeatNgramSize: 3 });
  });

  it('a skip link is the first tab stop and puts the focus in the editor', async () => {
    const { page } = await openWith([{ title: 'Skip', content: 'Straight to the text.' }]);
    await page.locator('body').focus();
    await page.keyboard.press('Tab');
    expect(await focusedName(page)).toBe('Skip to the editor');
    await page.keyboard.press('Enter');
    await expect.poll(() => focusedName(page), poll).toBe('Editor');
  });

  it('Ctrl+S saves at once and says so instead of opening the browser’s save dialog', async () => {
    const doc = { title: 'Saved by hand', content: 'Keep this.' };
    const { page } = await openWith([doc]);
    let downloads = 0;
    page.on('download', () => (downloads += 1));
    await cursorToEnd(page);
    await page.keyboard.type(' And this.');
    await page.keyboard.press('Control+s');
    await expect.poll(async () => (await page.getByRole('status', { name: 'Save status' }).textContent()) ?? '', poll).toMatch(/^Saved at /);
    const saved = (await callApi(server, 'documents.list', {})).find((d) => d.title === doc.title);
    expect((await callApi(server, 'documents.get', { id: saved!.id })).content).toBe(`${doc.content} And this.`);
    expect(downloads).toBe(0);
  });

  it('the Documents list can be searched and sorted, and shows the open document’s word count', async () => {
    const docs = [
      { title: 'Mango notes', content: 'Ripe in June.' },
      { title: 'Apple pie recipe', content: 'Flour, butter, apples and a long afternoon.' },
      { title: 'Zebra stories', content: 'Stripes, mostly. And a river at dusk.' },
    ];
    const { page } = await openWith(docs);
    const list = page.getByRole('region', { name: 'Documents' });
    const titles = async () => (await list.getByRole('listitem').allTextContents()).map((t) => docs.find((d) => t.includes(d.title))?.title).filter(Boolean);
    expect(await page.getByRole('status', { name: 'Word count' }).textContent()).toBe(`${countWords(docs[2]!.content)} words`);

    await list.getByRole('searchbox', { name: 'Search documents' }).fill('zebra');
    await expect.poll(titles, poll).toEqual(['Zebra stories']);
    await list.getByRole('searchbox', { name: 'Search documents' }).fill('');
    await list.getByRole('combobox', { name: 'Sort documents' }).selectOption({ label: 'Title' });
    await expect.poll(titles, poll).toEqual(['Apple pie recipe', 'Mango notes', 'Zebra stories']);

    await editor(page).focus();
    await page.keyboard.press('Control+End');
    await page.keyboard.type(' Two more.');
    await expect.poll(async () => page.getByRole('status', { name: 'Word count' }).textContent(), poll).toBe(`${countWords(docs[2]!.content) + 2} words`);
  });

  it('a file that is not text is refused with a clear message and creates no document; Windows line ends open fine', async () => {
    const { page } = await openWith([{ title: 'Before files', content: 'Files come next.' }]);
    const countBefore = (await callApi(server, 'documents.list', {})).length;
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]), Buffer.from('IHDR\r\n\u0000\u0001\u0002')]);
    await page.locator('input[type=file]').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: png });
    await expect.poll(async () => (await page.getByRole('region', { name: 'Notices' }).textContent()) ?? '', poll).toContain('photo.png is not a text file');
    expect((await callApi(server, 'documents.list', {})).length).toBe(countBefore);
    expect(await editorText(page)).toBe('Files come next.');

    await page.locator('input[type=file]').setInputFiles({ name: 'Windows notes.txt', mimeType: 'text/plain', buffer: Buffer.from('First line\r\nSecond line\r\n') });
    await expect.poll(() => editorText(page), poll).toBe('First line\nSecond line\n');
    await expect.poll(async () => (await callApi(server, 'documents.list', {})).some((d) => d.title === 'Windows notes'), poll).toBe(true);
  });

  it('an invalid model id is reported once on the Models page', async () => {
    const { page } = await openWith([{ title: 'Models', content: 'About models.' }]);
    await page.getByRole('link', { name: 'Models' }).click();
    await page.getByRole('textbox', { name: 'Folder path' }).fill('/tmp/some-model');
    await page.getByRole('textbox', { name: 'Model id' }).fill('bad id!');
    await page.getByRole('button', { name: 'Import' }).click();
    await expect.poll(async () => ((await page.getByRole('main').textContent()) ?? '').split('Model id: ').length - 1, poll).toBe(1);
  });

  it('model sizes use the same binary units as the CLI', async () => {
    const { page } = await openWith([{ title: 'Sizes', content: 'How big.' }]);
    const listed = await runCli(['models', 'list'], workspace.home);
    const cliSize = /\b(\d+(?:\.\d)? (?:B|KiB|MiB|GiB))\b/.exec(listed.stdout.split('\n').find((line) => line.startsWith('tiny')) ?? '')?.[1];
    expect(cliSize).toBeDefined();
    await page.getByRole('link', { name: 'Models' }).click();
    const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'tiny' }) });
    await expect.poll(async () => (await card.textContent()) ?? '', poll).toContain(`${cliSize} on disk`);
  });

  it('an inference crash is told once, in one banner', async () => {
    const { page } = await openWith([{ title: 'Crash', content: 'Before the crash.' }]);
    await setNumber(page, 'Max new tokens', 4);
    await cursorToEnd(page);
    await continueAndWait(page);
    // A request that meets the dead process gets a 503, which Chromium logs as a failed resource.
    allowConnectionNoise = true;
    const children = execFileSync('pgrep', ['-P', String(server.pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
    expect(children.length).toBeGreaterThan(0);
    for (const pid of children) process.kill(Number(pid), 'SIGKILL');
    const notices = page.getByRole('region', { name: 'Notices' });
    await expect.poll(() => notices.getByRole('alert').count(), poll).toBe(1);
    const text = (await notices.textContent()) ?? '';
    expect(text.match(/inference process stopped/gi)).toHaveLength(1);

    // The next request starts the process again, and the banner does not multiply.
    await continueAndWait(page);
    expect(await notices.getByRole('alert').count()).toBeLessThanOrEqual(1);
  });

  it('the footer stops saying "Engine ready" once the server has stopped', async () => {
    const { page } = await openWith([{ title: 'Server', content: 'The server is here.' }]);
    await cursorToEnd(page);
    await continueAndWait(page);
    const footer = page.getByRole('contentinfo', { name: 'Status bar' });
    await expect.poll(async () => (await footer.textContent()) ?? '', poll).toContain('Engine ready');
    allowConnectionNoise = true;
    await server.stop();
    await expect.poll(async () => (await footer.textContent()) ?? '', poll).toContain('Server unreachable');
    expect(await footer.textContent()).not.toContain('Engine ready');
    server = await startServe(workspace.home);
  });
});
