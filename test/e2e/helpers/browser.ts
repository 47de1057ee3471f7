/**
 * Debian's Chromium driven by playwright-core (never a downloaded browser),
 * plus a collector that turns console errors and page errors into test failures.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Where the browser is: $INKWELL_CHROMIUM, else Debian's /usr/bin/chromium. */
export const chromiumPath = process.env['INKWELL_CHROMIUM'] ?? '/usr/bin/chromium';

/** Why the browser suite cannot run here, or null when it can. */
export function browserUnavailableReason(): string | null {
  return existsSync(chromiumPath) ? null : `no Chromium at ${chromiumPath} (install it with \`apt-get install -y chromium\` or set INKWELL_CHROMIUM)`;
}

/** Launches headless Chromium with everything that phones home turned off. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Collects console errors and uncaught page errors; the test asserts the list is empty. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console.error: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  return errors;
}
