import { createPublicKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { decode, verify, type JwtPayload } from 'jsonwebtoken';
import type { DataSource } from 'typeorm';
import { appConfig } from 'src/config/app-config';
import { loadSlice } from 'src/config/config-slice';
import { TokenSigner } from 'src/crypto/signing/token-signer';

// With TOKEN_SIGNING_KEY set the database is never used.
const noDatabase = {} as DataSource;

async function signerWith(tokenSigningKey: string): Promise<TokenSigner> {
  const signer = new TokenSigner(loadSlice(appConfig, {}), { tokenSigningKey }, noDatabase);
  await signer.onModuleInit();
  return signer;
}

function verifyWithJwks(signer: TokenSigner, token: string): JwtPayload {
  const [jwk] = signer.jwks().keys;
  expect(decode(token, { complete: true })?.header).toMatchObject({
    alg: jwk!.alg,
    kid: jwk!.kid,
    typ: 'JWT',
  });
  return verify(token, createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }), {
    algorithms: [jwk!.alg],
  }) as JwtPayload;
}

describe('TokenSigner with TOKEN_SIGNING_KEY', () => {
  it('signs RS256 with an RSA PEM key and publishes only the public part, kid = thumbprint', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signer = await signerWith(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const [jwk] = signer.jwks().keys;
    expect(jwk).toMatchObject({
      kty: 'RSA',
      alg: 'RS256',
      use: 'sig',
      kid: expect.stringMatching(/^[\w-]{43}$/),
    });
    expect(jwk).not.toHaveProperty('d');
    const { token, expiresAt } = signer.sign({ sub: 'u1' }, 300);
    const claims = verifyWithJwks(signer, token);
    expect(claims).toMatchObject({ sub: 'u1' });
    expect(claims.exp! - claims.iat!).toBe(300);
    expect(expiresAt.getTime()).toBe(claims.exp! * 1000);
  });

  it('signs ES256 with an EC JWK and keeps its kid', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'prod-2026' };
    const signer = await signerWith(JSON.stringify(jwk));
    expect(signer.jwks().keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', kid: 'prod-2026' });
    expect(signer.jwks().keys[0]).not.toHaveProperty('d');
    expect(verifyWithJwks(signer, signer.sign({ sub: 'u2' }, 60).token).sub).toBe('u2');
  });

  it('signs ES384 with a P-384 key', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const signer = await signerWith(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    expect(verifyWithJwks(signer, signer.sign({ sub: 'u3' }, 60).token).sub).toBe('u3');
  });

  it('refuses a key it cannot publish safely (RSA < 2048 bits, Ed25519)', async () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const ed = generateKeyPairSync('ed25519').privateKey;
    for (const k of [small, ed]) {
      await expect(signerWith(k.export({ type: 'pkcs8', format: 'pem' }).toString())).rejects.toThrow(
        /TOKEN_SIGNING_KEY/,
      );
    }
  });
});
