import type { JwtClaims } from 'src/auth/jwt/claims';

/** The client-credentials shapes keysmith recognises (docs/decisions/0004-m2m-token-shape.md). */
export type ClientShape = 'auth0' | 'rfc9068' | 'okta' | 'entra' | 'keycloak' | 'identityserver';

/**
 * What a verified token's claims say about who holds it:
 * - `client`: a client-credentials token, of a recognised shape, naming its client;
 * - `person`: a token of a user-facing grant (an Auth0 `gty` other than client credentials, an Okta `uid`, an
 *   Entra ID delegated token, …): never a service, whatever else it says;
 * - `unknown`: the shape cannot tell; `clientId` is the client the token names, if any (AUTH_M2M_CLIENT_IDS
 *   decides), and `endUser` whether it carries signs of a person's sign-in all the same.
 */
export type TokenShape =
  | { kind: 'client'; shape: ClientShape; clientId: string }
  | { kind: 'person' }
  | { kind: 'unknown'; clientId: string | undefined; endUser: boolean };

const MAX_CLIENT_ID_LENGTH = 255;

const named = (value: unknown): value is string =>
  typeof value === 'string' && value.trim() !== '' && value.length <= MAX_CLIENT_ID_LENGTH;

const first = (...values: unknown[]): string | undefined => values.find(named);

const client = (shape: ClientShape, clientId: string | undefined): TokenShape =>
  clientId === undefined ? { kind: 'person' } : { kind: 'client', shape, clientId };

/** Keycloak names a client's service-account user `service-account-<clientId>`, lowercased. */
const SERVICE_ACCOUNT_PREFIX = 'service-account-';

const AUTH0_USER_ID = /^[\w-]+\|./;

/** Claims only a person's sign-in or profile puts in a token. */
const END_USER_CLAIMS = [
  'auth_time',
  'amr',
  'nonce',
  'email',
  'name',
  'given_name',
  'family_name',
  'upn',
  'unique_name',
];

/** Microsoft Entra ID (v1 and v2 tokens): `tid` and `oid` are always there. Decisive. */
function entra(claims: JwtClaims): TokenShape {
  const clientId = first(claims.azp, claims.appid);
  if (claims.idtyp === 'app') return client('entra', clientId);
  if (claims.idtyp !== undefined) return { kind: 'person' };
  // Without the optional idtyp claim (Microsoft's rule): an app-only token has no `scp`, and its `sub` is
  // the service principal's object id, its `oid`; a delegated token's `sub` is a pairwise id per user.
  if (claims.scp === undefined && named(claims.sub) && claims.sub === claims.oid) {
    return client('entra', clientId);
  }
  return { kind: 'person' };
}

/** Okta: `cid` is always there; a client-credentials token's `sub` is the client, a user token has `uid`. */
function okta(claims: JwtClaims): TokenShape {
  if (claims.uid === undefined && named(claims.cid) && claims.sub === claims.cid) {
    return client('okta', claims.cid);
  }
  return { kind: 'person' };
}

/**
 * Keycloak service accounts: the `sub` is the service-account user's id, `azp` the client, and the
 * service_account client scope adds `client_id` (`clientId` before Keycloak 22); the user's name is
 * `service-account-<client>`, lowercased. All of it must agree.
 */
function keycloakServiceAccount(claims: JwtClaims): string | undefined {
  const clientId = first(claims.client_id, claims.clientId);
  if (clientId === undefined || typeof claims.preferred_username !== 'string') return undefined;
  if (claims.azp !== undefined && claims.azp !== clientId) return undefined;
  const expected = `${SERVICE_ACCOUNT_PREFIX}${clientId}`.toLowerCase();
  return claims.preferred_username === expected ? clientId : undefined;
}

/**
 * Tells a service's client-credentials token from a person's. The provider-specific rules come first where
 * a provider's claims are unmistakable (Entra ID, Okta), then the shapes any issuer may use. A token that
 * matches none is `unknown`, never a client: the caller decides with AUTH_M2M_CLIENT_IDS.
 */
export function tokenShape(claims: JwtClaims): TokenShape {
  const { sub, gty, client_id: clientIdClaim, azp } = claims;
  // Auth0 says which grant issued the token; any other than client credentials is a person's.
  if (gty !== undefined && gty !== 'client-credentials') return { kind: 'person' };
  if (gty === 'client-credentials') return client('auth0', first(clientIdClaim, azp, sub));
  if (named(sub) && sub.endsWith('@clients')) return client('auth0', first(clientIdClaim, azp, sub));
  if (claims.tid !== undefined && claims.oid !== undefined) return entra(claims);
  if (claims.cid !== undefined) return okta(claims);
  // RFC 9068 §2.2: for a client-credentials grant the subject is the client itself.
  if (named(sub) && (sub === clientIdClaim || sub === azp)) return client('rfc9068', sub);
  const keycloak = keycloakServiceAccount(claims);
  if (keycloak !== undefined) return client('keycloak', keycloak);
  // Duende IdentityServer: a client-credentials token has a client_id and no subject at all.
  if (sub === undefined && named(clientIdClaim)) return client('identityserver', clientIdClaim);
  return {
    kind: 'unknown',
    clientId: first(clientIdClaim, azp, claims.clientId),
    endUser:
      END_USER_CLAIMS.some((claim) => claims[claim] !== undefined) ||
      (typeof claims.preferred_username === 'string' &&
        !claims.preferred_username.startsWith(SERVICE_ACCOUNT_PREFIX)) ||
      // Auth0 names a user `<connection>|<id>` (`auth0|…`, `google-oauth2|…`).
      (named(sub) && AUTH0_USER_ID.test(sub)),
  };
}
