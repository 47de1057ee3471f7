/**
 * Which origins count as "the app": the custom `app://inkwell` scheme in
 * builds, plus the electron-vite dev server while developing. Navigation, IPC
 * sender checks, event delivery and the CSP all ask this one policy.
 */

/** Scheme the renderer is served from (registered as standard + secure). */
export const APP_SCHEME = 'app';
/** Host part of every app URL; anything else on the scheme is a 404. */
export const APP_HOST = 'inkwell';
/** Origin of the packaged renderer. */
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
/** First page the window loads in a build. */
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;

/**
 * `scheme://host[:port]` of a URL, or null when it has none (about:, data:, file:, garbage).
 * Built by hand because WHATWG `URL.origin` is the opaque "null" for non-special
 * schemes such as `app:` in Node, so it cannot tell `app://inkwell` from `app://evil`.
 */
export function originOf(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.host === '') return null;
  return `${parsed.protocol}//${parsed.host}`;
}

/** The set of origins allowed to load in, and talk to, the main process. */
export interface OriginPolicy {
  /** Trusted origins, e.g. `["app://inkwell"]` or `[…, "http://localhost:5173"]`. */
  readonly origins: readonly string[];
  /** The URL the main window loads first. */
  readonly entryUrl: string;
  /** True when `url` belongs to one of the trusted origins. */
  isTrusted(url: string): boolean;
}

/**
 * Builds the policy. `devServerUrl` (electron-vite's ELECTRON_RENDERER_URL) is
 * honoured only when the app is not packaged, so an environment variable can
 * never point an installed app at a foreign page.
 */
export function createOriginPolicy(opts: { devServerUrl?: string | undefined; isPackaged: boolean }): OriginPolicy {
  const devOrigin = !opts.isPackaged && opts.devServerUrl ? originOf(opts.devServerUrl) : null;
  const origins = devOrigin ? [APP_ORIGIN, devOrigin] : [APP_ORIGIN];
  return {
    origins,
    entryUrl: devOrigin && opts.devServerUrl ? opts.devServerUrl : APP_ENTRY_URL,
    isTrusted(url: string): boolean {
      const origin = originOf(url);
      return origin !== null && origins.includes(origin);
    },
  };
}
