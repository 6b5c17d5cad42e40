import { createHash } from 'node:crypto';
import {
  callbackPageText,
  type CallbackOutcome,
  CallbackOutcome as Outcome,
} from 'src/oauth-sessions/oauth-sessions.errors';

/**
 * The page the provider's redirect lands on. Self-contained (no external resource of any kind), one inline
 * style and one inline script, both allowed by their hashes in the page's own Content-Security-Policy; every
 * value written into it is escaped. The script takes `state` and `token` out of the address bar and history;
 * on success it posts the completion message to the window that opened the tab, once per settings UI origin
 * (the browser drops a message whose target origin is not the opener's), and closes the tab (allowed: the
 * settings UI opened it with `window.open`). The message and the target origins are JSON data blocks
 * (`<script type="application/json">`), which the browser never runs, so the script and its hash stay
 * constant (decisions 0021, 0022).
 */
const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;color:#1b1b1f;background:#fff;max-width:34rem;margin:4rem auto;' +
  'padding:0 1rem}h1{font-size:1.3rem;margin:0 0 1rem}p{margin:0 0 .8rem}.ref{color:#5f6368;font-size:.85rem}';
const SCRIPT =
  'history.replaceState(null,"",location.pathname);' +
  'var m=document.getElementById("keysmith-completion"),t=document.getElementById("keysmith-targets");' +
  'if(m&&t&&window.opener){var d=JSON.parse(m.textContent),o=JSON.parse(t.textContent);' +
  'for(var i=0;i<o.length;i++){try{window.opener.postMessage(d,o[i]);}catch(e){}}}' +
  'if(document.body.getAttribute("data-outcome")==="success"){window.close();}';

/** The element ids of the page's two JSON data blocks. */
export const COMPLETION_ELEMENT_ID = 'keysmith-completion';
export const TARGETS_ELEMENT_ID = 'keysmith-targets';

/** What the success page posts to the settings UI window that opened it (API.md). */
export interface CompletionMessage {
  type: 'keysmith:provider-linked';
  loginSessionId: string;
  completionCode: string;
}

/** The success page's hand-off: the message, and the origins it is posted to (SETTINGS_UI_ORIGIN). */
export interface CompletionHandoff {
  message: CompletionMessage;
  targetOrigins: readonly string[];
}

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

/**
 * JSON that cannot leave the `<script type="application/json">` element it is written into: `<`, `>` and `&`
 * (so no `</script>` or `<!--`) and the two line separators JavaScript once treated as line ends are written
 * as `\u` escapes, which JSON.parse reads back unchanged.
 */
export function jsonForScriptElement(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export interface CallbackPage {
  status: number;
  html: string;
}

/**
 * The page for `outcome`. `provider` is a configured provider's name (a generic text when the session is
 * unknown: nothing from the URL is ever written); `reference` the request id, for support; `handoff` the
 * success page's completion message. All escaped like everything else.
 */
export function renderCallbackPage(
  outcome: CallbackOutcome,
  provider: string,
  reference: string | null,
  handoff?: CompletionHandoff,
): CallbackPage {
  const text = callbackPageText(outcome, provider);
  const e = escapeHtml;
  const data =
    handoff && outcome === Outcome.Success
      ? `<script type="application/json" id="${COMPLETION_ELEMENT_ID}">${jsonForScriptElement(handoff.message)}</script>\n` +
        `<script type="application/json" id="${TARGETS_ELEMENT_ID}">${jsonForScriptElement(handoff.targetOrigins)}</script>\n`
      : '';
  const html =
    '<!doctype html>\n' +
    '<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    '<meta name="robots" content="noindex">\n' +
    `<title>${e(text.title)}</title>\n<style>${STYLE}</style>\n</head>\n` +
    `<body data-outcome="${outcome === Outcome.Success ? 'success' : 'failure'}">\n<main>\n` +
    `<h1>${e(text.title)}</h1>\n<p>${e(text.message)}</p>\n<p>${e(text.next)}</p>\n` +
    (reference ? `<p class="ref">Reference: ${e(reference)}</p>\n` : '') +
    `</main>\n${data}<script>${SCRIPT}</script>\n</body>\n</html>\n`;
  return { status: text.status, html };
}
