import { createHash } from 'node:crypto';
import { CALLBACK_PAGE_CSP, escapeHtml, renderCallbackPage } from 'src/oauth-sessions/callback-page';
import { CallbackOutcome } from 'src/oauth-sessions/oauth-sessions.errors';

const block = (html: string, tag: string): string =>
  new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(html)![1]!;
const hashOf = (s: string): string => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

describe('the callback page', () => {
  it('escapes the five HTML metacharacters', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&amp;</a>`)).toBe(
      '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;',
    );
  });

  it('escapes every value it writes: the provider name and the reference', () => {
    const evil = `"><script>alert(1)</script><img src=x onerror='a'>`;
    const { html } = renderCallbackPage(CallbackOutcome.ExchangeFailed, evil, evil);
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html.match(/<script>/g)).toHaveLength(1);
  });

  it('allows exactly its own inline script and style by hash, and nothing else', () => {
    const { html } = renderCallbackPage(CallbackOutcome.Success, 'Acme', 'req-1');
    expect(CALLBACK_PAGE_CSP).toContain(`script-src ${hashOf(block(html, 'script'))}`);
    expect(CALLBACK_PAGE_CSP).toContain(`style-src ${hashOf(block(html, 'style'))}`);
    for (const directive of [
      "default-src 'none'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
      "connect-src 'none'",
      "img-src 'none'",
    ])
      expect(CALLBACK_PAGE_CSP).toContain(directive);
    expect(CALLBACK_PAGE_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*|https?:/);
  });

  it('closes itself on success only, and strips the query from the address bar on every outcome', () => {
    const success = renderCallbackPage(CallbackOutcome.Success, 'Acme', null).html;
    const failure = renderCallbackPage(CallbackOutcome.AlreadyUsed, 'Acme', null).html;
    expect(success).toContain('data-outcome="success"');
    expect(failure).toContain('data-outcome="failure"');
    // One script (one hash) serves both; what it does depends on the outcome attribute.
    expect(block(success, 'script')).toBe(block(failure, 'script'));
    expect(block(success, 'script')).toContain('history.replaceState(null,"",location.pathname)');
    expect(block(success, 'script')).toContain('window.close()');
  });

  it('loads nothing from anywhere', () => {
    for (const outcome of Object.values(CallbackOutcome)) {
      const { html } = renderCallbackPage(outcome, 'Acme', 'req-1');
      expect(html).not.toMatch(/\s(src|href|action)=|https?:\/\/|@import|url\(/);
    }
  });

  it.each([
    [CallbackOutcome.Success, 200, 'go back to the settings page'],
    [CallbackOutcome.UnknownState, 400, 'start linking the provider again'],
    [CallbackOutcome.AlreadyUsed, 400, 'already used'],
    [CallbackOutcome.Expired, 400, 'expired'],
    [CallbackOutcome.MissingToken, 400, 'start linking the provider again'],
    [CallbackOutcome.UserDisabled, 403, 'administrator'],
    [CallbackOutcome.ExchangeFailed, 502, 'try again later'],
    [CallbackOutcome.Unavailable, 503, 'Reload this page'],
    [CallbackOutcome.Internal, 500, 'start linking the provider again'],
  ])('answers %s with %i and says what to do', (outcome, status, advice) => {
    const page = renderCallbackPage(outcome, 'Acme', 'req-42');
    expect(page.status).toBe(status);
    expect(page.html).toContain(advice);
    expect(page.html).toContain('Reference: req-42');
  });
});
