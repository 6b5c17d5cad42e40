/**
 * How long the first M2M token signed with a freshly rotated key takes to verify (not a test; issue 16,
 * friction a). A real issuer (oauth2-mock-server) on loopback, the real M2M verification path
 * (M2MAuthService: passport-jwt, the RemoteKeySet, real JWKS fetches over HTTP), the default refetch
 * interval (AUTH_JWKS_REFETCH_INTERVAL_SECONDS=5). No database.
 *
 *   npx ts-node --transpile-only -r tsconfig-paths/register bench/jwks-rotation.ts
 *
 * Scenarios, each on a fresh service, ROUNDS times (median and max reported):
 *   - after-fetch: a token verified (the key set was just fetched), the issuer rotates, a new-kid token;
 *   - after-junk: a junk token with a made-up kid was just refused (a fetch spent on it), the issuer
 *     rotates, a new-kid token: the junk protection of decision 0040, which still makes it wait.
 */
import { Logger } from '@nestjs/common';
import { generateKeyPairSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { sign } from 'jsonwebtoken';
import { authConfig } from 'src/auth/auth.config';
import { M2MAuthService } from 'src/auth/jwt/m2m-auth.service';
import { loadAppConfig } from 'src/app.registrations';
import { M2M_AUDIENCE, m2mToken, TestIssuer } from 'test/helpers/issuers';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const attackerKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

async function scenario(issuer: TestIssuer, junkFirst: boolean): Promise<number> {
  const config = loadAppConfig({
    AUTH_M2M_JWKS_URI: issuer.jwksUri,
    AUTH_M2M_ISSUER: issuer.url,
    AUTH_M2M_AUDIENCE: issuer.audience,
  }).get(authConfig);
  const m2m = new M2MAuthService(config);
  if (!(await m2m.verify(await m2mToken(issuer, 'gw', 'apikeys:resolve')))) throw new Error('no baseline');
  if (junkFirst) {
    const junk = sign({ sub: 'x@clients', iss: issuer.url, aud: issuer.audience }, attackerKey, {
      algorithm: 'RS256',
      keyid: 'junk',
      expiresIn: 60,
    });
    if (await m2m.verify(junk)) throw new Error('junk verified');
  }
  await issuer.rotate();
  const rotated = await m2mToken(issuer, 'gw', 'apikeys:resolve');
  const started = performance.now();
  const principal = await m2m.verify(rotated);
  const elapsed = performance.now() - started;
  if (!principal) throw new Error('the rotated token was refused');
  return elapsed;
}

async function main(): Promise<void> {
  Logger.overrideLogger(false);
  const issuer = await TestIssuer.start(M2M_AUDIENCE);
  try {
    for (const [name, junkFirst] of [
      ['after-fetch', false],
      ['after-junk', true],
    ] as const) {
      const times: number[] = [];
      for (let i = 0; i < ROUNDS; i++) times.push(await scenario(issuer, junkFirst));
      times.sort((a, b) => a - b);
      const median = times[Math.floor(times.length / 2)]!;
      console.log(
        `${name}: first request with the rotated kid, ms: median ${median.toFixed(1)}, max ${times.at(-1)!.toFixed(1)} (${ROUNDS} rounds)`,
      );
    }
  } finally {
    await issuer.stop();
  }
}

void main();
