import { OAuth2Server } from 'oauth2-mock-server';
import { nextIssuerKey } from 'test/helpers/issuer-keys';

/** The audience the M2M authorization server issues internal-service tokens for. */
export const M2M_AUDIENCE = 'keysmith-internal';
/** The audience the session identity provider issues user tokens for. */
export const SESSION_AUDIENCE = 'keysmith-ui';
/** An org that `internalEnv` allows provisioning for (PROVISION_ALLOWED_ORG_IDS). */
export const ALLOWED_ORG = 'org-allowed';

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
    // A key made by the global setup when there is one (each issuer still gets a kid of its own).
    const pooled = nextIssuerKey();
    const key = pooled ? await server.issuer.keys.add(pooled) : await server.issuer.keys.generate('RS256');
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

/** A client-credentials token as an authorization server issues it. */
export function m2mToken(
  issuer: TestIssuer,
  clientId: string,
  scope: string | { scp?: string[]; permissions?: string[] },
  options: { expiresIn?: number } = {},
): Promise<string> {
  const scopes = typeof scope === 'string' ? { scope } : scope;
  return issuer.token(
    { sub: `${clientId}@clients`, azp: clientId, gty: 'client-credentials', ...scopes },
    options,
  );
}

/** An `authorization` header value for the session user `sub`. */
export async function sessionBearer(issuer: TestIssuer, sub: string): Promise<string> {
  return `Bearer ${await issuer.token({ sub })}`;
}

/** Env for an app whose session tier trusts `issuer`. */
export function sessionEnv(issuer: TestIssuer): Record<string, string> {
  return {
    AUTH_SESSION_JWKS_URI: issuer.jwksUri,
    AUTH_SESSION_ISSUER: issuer.url,
    AUTH_SESSION_AUDIENCE: issuer.audience,
  };
}

/** Env for an app with the M2M tier (and the session tier, on another issuer) configured. */
export function internalEnv(m2m: TestIssuer, session: TestIssuer): Record<string, string> {
  return {
    AUTH_M2M_JWKS_URI: m2m.jwksUri,
    AUTH_M2M_ISSUER: m2m.url,
    AUTH_M2M_AUDIENCE: m2m.audience,
    ...sessionEnv(session),
    PROVISION_ALLOWED_ORG_IDS: `${ALLOWED_ORG},org-other`,
  };
}
