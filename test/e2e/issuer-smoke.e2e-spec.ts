import { TestIssuer } from 'test/helpers/issuers';
import { decode } from 'jsonwebtoken';

describe('test issuer', () => {
  it('issues RS256 tokens with the given claims and serves its JWKS', async () => {
    const issuer = await TestIssuer.start('aud-x');
    try {
      const token = await issuer.token({ sub: 'user-1', org_id: 'org-1' });
      const decoded = decode(token, { complete: true });
      expect(decoded?.header.alg).toBe('RS256');
      expect(decoded?.payload).toMatchObject({
        sub: 'user-1',
        org_id: 'org-1',
        aud: 'aud-x',
        iss: issuer.url,
      });
      const jwks = (await (await fetch(issuer.jwksUri)).json()) as { keys: unknown[] };
      expect(jwks.keys).toHaveLength(1);
    } finally {
      await issuer.stop();
    }
  });
});
