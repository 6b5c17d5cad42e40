import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  sign,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from 'src/config/app-config';
import { jwkThumbprint } from 'src/auth/jwt/jwk-thumbprint';
import { SigningKey } from 'src/crypto/signing/signing-key.entity';
import { signingConfig, type SigningConfig } from 'src/crypto/signing/signing.config';

export type SigningAlgorithm = 'RS256' | 'ES256' | 'ES384' | 'ES512';

/** A public key as published at `/.well-known/jwks.json`. */
export interface PublicJwk extends JsonWebKey {
  kty: string;
  kid: string;
  alg: SigningAlgorithm;
  use: 'sig';
}

export interface SignedToken {
  token: string;
  expiresAt: Date;
}

interface ActiveKey {
  privateKey: KeyObject;
  alg: SigningAlgorithm;
  kid: string;
  publicJwk: PublicJwk;
  /** base64url of the JOSE header, the same for every token. */
  encodedHeader: string;
}

const EC_CURVES: Record<string, { alg: SigningAlgorithm; crv: string }> = {
  prime256v1: { alg: 'ES256', crv: 'P-256' },
  secp384r1: { alg: 'ES384', crv: 'P-384' },
  secp521r1: { alg: 'ES512', crv: 'P-521' },
};
const DIGEST: Record<SigningAlgorithm, string> = {
  RS256: 'sha256',
  ES256: 'sha256',
  ES384: 'sha384',
  ES512: 'sha512',
};
// Two instances starting together on an empty database must end up with one development key.
const DEV_KEY_LOCK = 'keysmith:signing_keys:dev';

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/**
 * Signs the short-lived JWTs this service mints (API-key resolution) and publishes the public key. The key
 * is TOKEN_SIGNING_KEY (PEM or JWK, RSA ≥ 2048 bits or EC); when unset, a development EC P-256 key is
 * generated once and kept in `signing_keys`, so every instance sharing the database signs with the same key.
 */
@Injectable()
export class TokenSigner implements OnModuleInit {
  private readonly logger = new Logger('TokenSigner');
  private key?: ActiveKey;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(signingConfig.KEY) private readonly signing: SigningConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.signing.tokenSigningKey) {
      this.key = activeKey(parseConfiguredKey(this.signing.tokenSigningKey));
      return;
    }
    // Only outside production (the configuration refuses production without TOKEN_SIGNING_KEY).
    this.key = activeKey({ privateKey: await this.loadOrCreateDevKey() });
  }

  get issuer(): string {
    return this.config.oauthCallbackOrigin;
  }

  /**
   * A compact JWS over `claims` plus `iss`, `iat`, `exp` and a random `jti`. `exp` is `iat + ttlSeconds`,
   * but never after `notAfter` (the credential the token stands for stops being valid then).
   */
  sign(claims: Record<string, unknown>, ttlSeconds: number, notAfter?: Date | null): SignedToken {
    const key = this.activeKey();
    const iat = Math.floor(Date.now() / 1000);
    const exp = notAfter
      ? Math.min(iat + ttlSeconds, Math.floor(notAfter.getTime() / 1000))
      : iat + ttlSeconds;
    const payload = { iss: this.issuer, ...claims, iat, exp, jti: randomUUID() };
    const signingInput = `${key.encodedHeader}.${b64url(JSON.stringify(payload))}`;
    // ieee-p1363 is the raw r||s form JWS wants for ECDSA; RSA ignores it.
    const signature = sign(DIGEST[key.alg], Buffer.from(signingInput), {
      key: key.privateKey,
      dsaEncoding: 'ieee-p1363',
    });
    return { token: `${signingInput}.${b64url(signature)}`, expiresAt: new Date(exp * 1000) };
  }

  /**
   * A compact JWS over exactly `payload` (no claim added), with `typ` in its header: a Security Event Token
   * (RFC 8417) is `secevent+jwt` and carries no `exp`, so `sign` (an access token's shape) does not fit it.
   */
  signPayload(payload: Record<string, unknown>, typ: string): string {
    const key = this.activeKey();
    const header = b64url(JSON.stringify({ alg: key.alg, typ, kid: key.kid }));
    const signingInput = `${header}.${b64url(JSON.stringify(payload))}`;
    const signature = sign(DIGEST[key.alg], Buffer.from(signingInput), {
      key: key.privateKey,
      dsaEncoding: 'ieee-p1363',
    });
    return `${signingInput}.${b64url(signature)}`;
  }

  jwks(): { keys: PublicJwk[] } {
    return { keys: [this.activeKey().publicJwk] };
  }

  private activeKey(): ActiveKey {
    if (!this.key) throw new Error('TokenSigner used before module init');
    return this.key;
  }

  private async loadOrCreateDevKey(): Promise<KeyObject> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [DEV_KEY_LOCK]);
      const existing = await manager
        .getRepository(SigningKey)
        .createQueryBuilder('k')
        .addSelect('k.privateKeyPem')
        .orderBy('k.createdAt', 'ASC')
        .addOrderBy('k.kid', 'ASC')
        .getOne();
      if (existing) return createPrivateKey(existing.privateKeyPem);
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const { kid, alg } = activeKey({ privateKey });
      await manager
        .createQueryBuilder()
        .insert()
        .into(SigningKey)
        .values({ kid, alg, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() })
        .orIgnore()
        .execute();
      this.logger.log({ kid }, 'generated the development signing key');
      return privateKey;
    });
  }
}

function parseConfiguredKey(raw: string): { privateKey: KeyObject; kid?: string } {
  if (raw.startsWith('{')) {
    const jwk = JSON.parse(raw) as JsonWebKey & { kid?: unknown };
    const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
    return { privateKey, kid: typeof jwk.kid === 'string' && jwk.kid ? jwk.kid : undefined };
  }
  return { privateKey: createPrivateKey(raw) };
}

function activeKey({ privateKey, kid }: { privateKey: KeyObject; kid?: string }): ActiveKey {
  const alg = algorithmOf(privateKey);
  const exported = createPublicKey(privateKey).export({ format: 'jwk' });
  const publicJwk: PublicJwk = {
    ...exported,
    kty: exported.kty ?? '',
    kid: kid ?? jwkThumbprint(exported),
    alg,
    use: 'sig',
  };
  const encodedHeader = b64url(JSON.stringify({ alg, typ: 'JWT', kid: publicJwk.kid }));
  return { privateKey, alg, kid: publicJwk.kid, publicJwk, encodedHeader };
}

function algorithmOf(key: KeyObject): SigningAlgorithm {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= 2048) return 'RS256';
  if (key.asymmetricKeyType === 'ec') {
    const curve = EC_CURVES[details?.namedCurve ?? ''];
    if (curve) return curve.alg;
  }
  throw new Error(
    'TOKEN_SIGNING_KEY must be an RSA key of at least 2048 bits or an EC P-256/P-384/P-521 key',
  );
}
