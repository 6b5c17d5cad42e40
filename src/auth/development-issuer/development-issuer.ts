import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { sign } from 'jsonwebtoken';
import type { DataSource } from 'typeorm';
import { DevelopmentIssuerKey } from 'src/auth/development-issuer/development-issuer-key.entity';
import { jwkThumbprint } from 'src/auth/jwt/jwk-thumbprint';

/**
 * The development issuer (decision 0045): outside production, with no identity provider configured, keysmith
 * trusts tokens signed by a key pair it keeps in its own database, for both JWT tiers, so that a fresh clone
 * can mint and resolve API keys (`npm run dev:token`). Its `iss` and `aud` name it, so its tokens can never be
 * mistaken for a real issuer's, and an instance with a real issuer configured does not trust it at all.
 */
export const DEVELOPMENT_ISSUER = 'keysmith-development-issuer';
/** The session tier's audience. It differs from the M2M one: a token of one tier never passes the other. */
export const DEVELOPMENT_SESSION_AUDIENCE = 'keysmith-development-session';
export const DEVELOPMENT_M2M_AUDIENCE = 'keysmith-development-m2m';
export const DEVELOPMENT_ALGORITHM = 'ES256';
/** `npm run dev:token`'s tokens are valid for an hour. */
export const DEVELOPMENT_TOKEN_TTL_SECONDS = 3_600;

// Two instances (or an instance and `npm run dev:token`) starting together on an empty database must end up
// with one key.
const DEV_ISSUER_LOCK = 'keysmith:development_issuer_keys';

export interface DevelopmentIssuerKeyPair {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** The development issuer's key pair, generated and stored the first time (race-safe under a lock). */
export async function loadOrCreateDevelopmentIssuerKey(
  dataSource: DataSource,
  onCreated?: (kid: string) => void,
): Promise<DevelopmentIssuerKeyPair> {
  return dataSource.transaction(async (manager) => {
    await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [DEV_ISSUER_LOCK]);
    const existing = await manager
      .getRepository(DevelopmentIssuerKey)
      .createQueryBuilder('k')
      .addSelect('k.privateKeyPem')
      .orderBy('k.createdAt', 'ASC')
      .addOrderBy('k.kid', 'ASC')
      .getOne();
    if (existing) return keyPair(createPrivateKey(existing.privateKeyPem));
    const pair = keyPair(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
    await manager
      .createQueryBuilder()
      .insert()
      .into(DevelopmentIssuerKey)
      .values({
        kid: pair.kid,
        alg: DEVELOPMENT_ALGORITHM,
        privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      })
      .orIgnore()
      .execute();
    onCreated?.(pair.kid);
    return pair;
  });
}

function keyPair(privateKey: KeyObject): DevelopmentIssuerKeyPair {
  const publicKey = createPublicKey(privateKey);
  return { kid: jwkThumbprint(publicKey.export({ format: 'jwk' })), privateKey, publicKey };
}

export type DevelopmentToken =
  | { kind: 'session'; subject: string; orgId?: string }
  | { kind: 'm2m'; scopes: readonly string[]; clientId: string };

/**
 * A development issuer token: a session (`sub`, optional `org_id`) or an M2M client-credentials token
 * (`client_id`, `gty: client-credentials` and `scope`, the Auth0 shape keysmith recognises), valid for an
 * hour.
 */
export function signDevelopmentToken(
  key: DevelopmentIssuerKeyPair,
  token: DevelopmentToken,
  nowSeconds = Math.floor(Date.now() / 1000),
): string {
  const claims =
    token.kind === 'session'
      ? {
          aud: DEVELOPMENT_SESSION_AUDIENCE,
          sub: token.subject,
          ...(token.orgId !== undefined ? { org_id: token.orgId } : {}),
        }
      : {
          aud: DEVELOPMENT_M2M_AUDIENCE,
          sub: token.clientId,
          client_id: token.clientId,
          gty: 'client-credentials',
          scope: token.scopes.join(' '),
        };
  return sign(
    { iss: DEVELOPMENT_ISSUER, ...claims, iat: nowSeconds, exp: nowSeconds + DEVELOPMENT_TOKEN_TTL_SECONDS },
    key.privateKey,
    { algorithm: DEVELOPMENT_ALGORITHM, keyid: key.kid },
  );
}
