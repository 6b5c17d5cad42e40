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
  private constructor(
    private readonly server: OAuth2Server,
    readonly audience: string,
  ) {}

  static async start(audience: string): Promise<TestIssuer> {
    const server = new OAuth2Server();
    await server.issuer.keys.generate('RS256');
    await server.start(0, '127.0.0.1');
    return new TestIssuer(server, audience);
  }

  get url(): string {
    return this.server.issuer.url!;
  }

  get jwksUri(): string {
    return `${this.url}/jwks`;
  }

  /** A signed JWT with `iss` and `aud` set to this issuer's; `claims` are added or override them. */
  token(claims: IssuedClaims, options: { expiresIn?: number } = {}): Promise<string> {
    return this.server.issuer.buildToken({
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
