import { createHash } from 'node:crypto';
import {
  CALLBACK_PAGE_CSP,
  CallbackOutcome,
  escapeHtml,
  jsonForScriptElement,
  renderCallbackPage,
} from 'src/oauth-sessions/callback-page';

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

  describe('the completion hand-off (decision 0022)', () => {
    const handoff = {
      message: {
        type: 'keysmith:provider-linked' as const,
        loginSessionId: '5b2f0c1e-0000-4000-8000-000000000001',
        completionCode: 'c0de_-'.repeat(7),
      },
      targetOrigins: ['https://settings.example.com', 'http://127.0.0.1:4000'],
    };
    const dataBlock = (html: string, id: string): string =>
      new RegExp(`<script type="application/json" id="${id}">([\\s\\S]*?)</script>`).exec(html)![1]!;
    const executable = (html: string): string[] =>
      [...html.matchAll(/<script(?: [^>]*)?>([\s\S]*?)<\/script>/g)]
        .filter((m) => !m[0].startsWith('<script type="application/json"'))
        .map((m) => m[1]!);

    it('writes the message as JSON in a data block, the targets in another; the one script stays constant', () => {
      const { html } = renderCallbackPage(CallbackOutcome.Success, 'Acme', 'req-1', handoff);
      expect(JSON.parse(dataBlock(html, 'keysmith-completion'))).toEqual(handoff.message);
      expect(JSON.parse(dataBlock(html, 'keysmith-targets'))).toEqual(handoff.targetOrigins);
      // The code appears in the message block only.
      expect(html.split(handoff.message.completionCode)).toHaveLength(2);
      const scripts = executable(html);
      expect(scripts).toHaveLength(1);
      expect(CALLBACK_PAGE_CSP).toContain(`script-src ${hashOf(scripts[0]!)}`);
      expect(scripts[0]).toContain('window.opener.postMessage(d,o[i])');
    });

    it('is written on success only', () => {
      const { html } = renderCallbackPage(CallbackOutcome.AlreadyUsed, 'Acme', 'req-1', handoff);
      expect(html).not.toContain('application/json');
      expect(html).not.toContain(handoff.message.completionCode);
    });

    it('cannot break out of its element, and reads back unchanged', () => {
      const evil = '</script><script>alert(1)</script><!-- & \u2028\u2029';
      expect(jsonForScriptElement({ v: evil })).not.toMatch(/[<>&\u2028\u2029]/);
      expect(JSON.parse(jsonForScriptElement({ v: evil }))).toEqual({ v: evil });
      const { html } = renderCallbackPage(CallbackOutcome.Success, 'Acme', 'req-1', {
        ...handoff,
        message: { ...handoff.message, loginSessionId: evil },
      });
      expect(html).not.toContain('<script>alert');
      expect(JSON.parse(dataBlock(html, 'keysmith-completion'))).toMatchObject({ loginSessionId: evil });
    });
  });

  it('loads nothing from anywhere', () => {
    for (const outcome of Object.values(CallbackOutcome)) {
      const { html } = renderCallbackPage(outcome, 'Acme', 'req-1');
      expect(html).not.toMatch(/\s(src|href|action)=|https?:\/\/|@import|url\(/);
    }
  });

  it.each([
    [CallbackOutcome.Success, 200, 'Go back to the settings page'],
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
