import { createHash } from 'node:crypto';
import { assertUnreachable } from 'src/errors/assert-unreachable';

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

/** What the callback page says, and with which status. */
export enum CallbackOutcome {
  Success = 'success',
  /** Unknown or malformed state, or a state of another provider (or of a provider since disabled). */
  UnknownState = 'unknown_state',
  /** The state was used already: completed, redeemed, failed, or another callback is exchanging it. */
  AlreadyUsed = 'already_used',
  Expired = 'expired',
  MissingToken = 'missing_token',
  UserDisabled = 'user_disabled',
  ExchangeFailed = 'exchange_failed',
  /**
   * Nothing was claimed (no encryption key on this instance, or the database failed before the claim): the
   * same link works once the problem is gone.
   */
  Unavailable = 'unavailable',
  Internal = 'internal_error',
}

export interface CallbackPageText {
  status: number;
  title: string;
  /** What happened. */
  message: string;
  /** What to do now. */
  next: string;
}

const START_AGAIN = 'Close this tab, go back to the settings page and start linking the provider again.';

export function callbackPageText(outcome: CallbackOutcome, provider: string): CallbackPageText {
  switch (outcome) {
    case CallbackOutcome.Success:
      return {
        status: 200,
        title: `Signed in to ${provider}`,
        message: `keysmith received your ${provider} API key.`,
        next:
          'Go back to the settings page where you started: it finishes linking the provider (this tab ' +
          'closes itself). Only the settings page that opened this tab can finish it.',
      };
    case CallbackOutcome.UnknownState:
      return {
        status: 400,
        title: 'Sign-in link not recognised',
        message:
          'This sign-in link does not belong to a login keysmith started, or it was changed on the way.',
        next: START_AGAIN,
      };
    case CallbackOutcome.AlreadyUsed:
      return {
        status: 400,
        title: 'Sign-in link already used',
        message: 'This sign-in link was already used. Each link works once.',
        next: 'Go back to the settings page: it shows whether the provider is linked. If not, start again.',
      };
    case CallbackOutcome.Expired:
      return {
        status: 400,
        title: 'Sign-in expired',
        message: 'This login took too long and has expired.',
        next: START_AGAIN,
      };
    case CallbackOutcome.MissingToken:
      return {
        status: 400,
        title: 'Sign-in not completed',
        message: `${provider} sent you back without completing the sign-in.`,
        next: START_AGAIN,
      };
    case CallbackOutcome.UserDisabled:
      return {
        status: 403,
        title: 'Account disabled',
        message: 'Your account is disabled and cannot link billing providers.',
        next: 'Contact your administrator.',
      };
    case CallbackOutcome.ExchangeFailed:
      return {
        status: 502,
        title: 'Could not get your key',
        message: `You signed in, but ${provider} did not hand over your API key.`,
        next: `${START_AGAIN} If it keeps failing, ${provider} may be having trouble; try again later.`,
      };
    case CallbackOutcome.Unavailable:
      return {
        status: 503,
        title: 'Temporarily unavailable',
        message: 'keysmith cannot complete the sign-in right now. Nothing was used up.',
        next: 'Reload this page in a few minutes. If it keeps failing, contact your administrator.',
      };
    case CallbackOutcome.Internal:
      return {
        status: 500,
        title: 'Something went wrong',
        message: 'keysmith could not finish linking the provider.',
        next: START_AGAIN,
      };
    default:
      return assertUnreachable(outcome);
  }
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
    handoff && outcome === CallbackOutcome.Success
      ? `<script type="application/json" id="${COMPLETION_ELEMENT_ID}">${jsonForScriptElement(handoff.message)}</script>\n` +
        `<script type="application/json" id="${TARGETS_ELEMENT_ID}">${jsonForScriptElement(handoff.targetOrigins)}</script>\n`
      : '';
  const html =
    '<!doctype html>\n' +
    '<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    '<meta name="robots" content="noindex">\n' +
    `<title>${e(text.title)}</title>\n<style>${STYLE}</style>\n</head>\n` +
    `<body data-outcome="${outcome === CallbackOutcome.Success ? 'success' : 'failure'}">\n<main>\n` +
    `<h1>${e(text.title)}</h1>\n<p>${e(text.message)}</p>\n<p>${e(text.next)}</p>\n` +
    (reference ? `<p class="ref">Reference: ${e(reference)}</p>\n` : '') +
    `</main>\n${data}<script>${SCRIPT}</script>\n</body>\n</html>\n`;
  return { status: text.status, html };
}
