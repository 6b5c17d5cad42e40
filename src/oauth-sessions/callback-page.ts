import { createHash } from 'node:crypto';
import {
  callbackPageText,
  type CallbackOutcome,
  CallbackOutcome as Outcome,
} from 'src/oauth-sessions/oauth-sessions.errors';

/**
 * The page the provider's redirect lands on. Self-contained (no external resource of any kind), one inline
 * style and one inline script, both allowed by their hashes in the page's own Content-Security-Policy; every
 * value written into it is escaped. The script takes `state` and `token` out of the address bar and history,
 * and on success closes the tab (allowed: the settings UI opened it with `window.open`).
 */
const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;color:#1b1b1f;background:#fff;max-width:34rem;margin:4rem auto;' +
  'padding:0 1rem}h1{font-size:1.3rem;margin:0 0 1rem}p{margin:0 0 .8rem}.ref{color:#5f6368;font-size:.85rem}';
const SCRIPT =
  'history.replaceState(null,"",location.pathname);' +
  'if(document.body.getAttribute("data-outcome")==="success"){window.close();}';

const hash = (source: string): string =>
  `'sha256-${createHash('sha256').update(source, 'utf8').digest('base64')}'`;

/** Nothing may load, submit, frame or run but the page's own style and script. */
export const CALLBACK_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${hash(SCRIPT)}`,
  `style-src ${hash(STYLE)}`,
  "img-src 'none'",
  "connect-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text made safe for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export interface CallbackPage {
  status: number;
  html: string;
}

/**
 * The page for `outcome`. `provider` is the provider's name (or, when the session is unknown, the slug of the
 * path); `reference` the request id, for support. Both are escaped like everything else.
 */
export function renderCallbackPage(
  outcome: CallbackOutcome,
  provider: string,
  reference: string | null,
): CallbackPage {
  const text = callbackPageText(outcome, provider);
  const e = escapeHtml;
  const html =
    '<!doctype html>\n' +
    '<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    '<meta name="robots" content="noindex">\n' +
    `<title>${e(text.title)}</title>\n<style>${STYLE}</style>\n</head>\n` +
    `<body data-outcome="${outcome === Outcome.Success ? 'success' : 'failure'}">\n<main>\n` +
    `<h1>${e(text.title)}</h1>\n<p>${e(text.message)}</p>\n<p>${e(text.next)}</p>\n` +
    (reference ? `<p class="ref">Reference: ${e(reference)}</p>\n` : '') +
    `</main>\n<script>${SCRIPT}</script>\n</body>\n</html>\n`;
  return { status: text.status, html };
}
