import { OAuth2Server } from 'oauth2-mock-server';

export interface IssuedClaims {
  sub?: string;
  [claim: string]: unknown;
}

/**
 * A real OAuth 2 / OIDC issuer on loopback (oauth2-mock-server): it publishes a JWKS and signs RS256 JWTs
 * with its own keys, as the session identity provider and the M2M authorization server do in production.
 */
export class TestIssuer {
  /** The key new tokens are signed with: the newest one (see `rotate`). */
  private signingKid: string;

  private constructor(
    private readonly server: OAuth2Server,
    readonly audience: string,
    firstKid: string,
  ) {
    this.signingKid = firstKid;
  }

  static async start(audience: string): Promise<TestIssuer> {
    const server = new OAuth2Server();
    const key = await server.issuer.keys.generate('RS256');
    await server.start(0, '127.0.0.1');
    return new TestIssuer(server, audience, key.kid);
  }

  get url(): string {
    return this.server.issuer.url!;
  }

  get jwksUri(): string {
    return `${this.url}/jwks`;
  }

  /** The `kid` new tokens carry. */
  get kid(): string {
    return this.signingKid;
  }

  /**
   * A key rotation: a new key is published next to the old ones, and tokens are signed with it from now on.
   * Returns the new `kid`.
   */
  async rotate(): Promise<string> {
    const key = await this.server.issuer.keys.generate('RS256');
    this.signingKid = key.kid;
    return key.kid;
  }

  /** A signed JWT with `iss` and `aud` set to this issuer's; `claims` are added or override them. */
  token(claims: IssuedClaims, options: { expiresIn?: number; kid?: string } = {}): Promise<string> {
    return this.server.issuer.buildToken({
      kid: options.kid ?? this.signingKid,
      expiresIn: options.expiresIn ?? 600,
      scopesOrTransform: (_header, payload) => {
        delete payload.scope;
        payload.aud = this.audience;
        Object.assign(payload, claims);
        for (const [k, v] of Object.entries(claims)) if (v === undefined) delete payload[k];
      },
    });
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}
