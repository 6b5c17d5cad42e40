import type { INestApplicationContext } from '@nestjs/common';
import type { Server } from 'node:http';
import request from 'supertest';
import { DataSource, In } from 'typeorm';
import { ApiKey } from 'src/api-keys/api-key.entity';
import { hashApiKey, parseApiKey } from 'src/api-keys/api-key-format';
import { DeveloperKeysService } from 'src/api-keys/developer-keys.service';
import type { ApiKeyDto, CreateApiKeyDto } from 'src/api-keys/dto/api-key.dto';
import { AuditEvent } from 'src/audit/audit-event.entity';
import type { AuditContext } from 'src/audit/audit.service';
import type { SessionPrincipal } from 'src/auth/principal';
import { BillingProvider } from 'src/billing-providers/billing-provider.entity';
import { BillingProvidersService } from 'src/billing-providers/billing-providers.service';
import { OrgToken } from 'src/org-tokens/org-token.entity';
import { generateOrgToken } from 'src/org-tokens/org-token-format';
import { Project } from 'src/projects/project.entity';
import type { User } from 'src/users/user.entity';
import { UsersService, type UserProfile } from 'src/users/users.service';
import type { TestDatabase } from 'test/helpers/database';
import { ALLOWED_ORG } from 'test/helpers/issuers';

/**
 * Test data, made the way the app makes it: through its own services (what the routes call), its
 * repositories, or its HTTP routes, never by INSERTs that could drift from what the app writes. `nest` is a
 * running app (`t.app`) or a module of the integration tier. The few states no API can produce (an expired
 * row, a disabled user) are forced with SQL at the end of this file, each through a named function.
 */
type Nest = Pick<INestApplicationContext, 'get'>;

/** The session user `sub` as the developer surface sees it: its principal and its audit context. */
export function sessionCaller(
  sub: string,
  orgId?: string,
): { principal: SessionPrincipal; ctx: AuditContext } {
  const actor = `session:${sub}`;
  return {
    principal: { kind: 'session', sub, ...(orgId ? { orgId } : {}), actor },
    ctx: { actor, ip: null, requestId: null },
  };
}

/** The user `externalId`, created if missing, as on first sight (UsersService). */
export function user(nest: Nest, externalId: string, profile?: UserProfile): Promise<User> {
  return nest.get(UsersService).findOrCreateByExternalId(externalId, profile);
}

/**
 * Projects `names` (not the default) of the user `externalId`, created on first sight as the developer
 * surface does (UsersService), in one INSERT through the projects entity's repository: hundreds of them cost
 * what one does.
 */
export async function projects(nest: Nest, externalId: string, names: string[]): Promise<Project[]> {
  const owner = await user(nest, externalId);
  const repository = nest.get(DataSource).getRepository(Project);
  const { identifiers } = await repository.insert(names.map((name) => ({ userId: owner.id, name })));
  return repository.findBy({ id: In(identifiers.map((i) => i.id as string)) });
}

export interface MintedApiKey {
  key: ApiKeyDto;
  /** The plaintext, `ksk_<keyId>_<secret>_<checksum>`. */
  secret: string;
}

/**
 * A keysmith API key of the session user `sub`, as `POST /api/v1/developer/keys` mints it; with `orgId`,
 * from a session of that org.
 */
export async function apiKey(
  nest: Nest,
  sub: string,
  dto: CreateApiKeyDto = {},
  session: { orgId?: string } = {},
): Promise<MintedApiKey> {
  const { principal, ctx } = sessionCaller(sub, session.orgId);
  const { key, secret } = await nest.get(DeveloperKeysService).create(principal, dto, ctx);
  if (secret === undefined) throw new Error('apiKey: a provider key has no secret to return');
  return { key, secret };
}

/**
 * A key of the session user `sub` as keysmith minted them before the checksum existed, `ksk_<keyId>_<secret>`:
 * minted as `apiKey` does, then stored (through the api_keys entity's repository) under the hash of its
 * checksum-less plaintext, which is what that plaintext's row held. Returns that plaintext.
 */
export async function legacyApiKey(
  nest: Nest,
  sub: string,
  dto: CreateApiKeyDto = {},
): Promise<MintedApiKey> {
  const { key, secret } = await apiKey(nest, sub, dto);
  const { keyId, secret: secretPart } = parseApiKey(secret)!;
  const legacy = `ksk_${keyId}_${secretPart}`;
  await nest
    .get(DataSource)
    .getRepository(ApiKey)
    .update({ id: key.id }, { keyHash: hashApiKey(legacy) });
  return { key, secret: legacy };
}

/**
 * Revokes the API key with lookup id `keyId` as its owner would, `DELETE /api/v1/developer/keys/:id`
 * (audited, announced to every instance).
 */
export async function revokeApiKey(nest: Nest, keyId: string): Promise<void> {
  const key = await nest
    .get(DataSource)
    .getRepository(ApiKey)
    .findOneOrFail({ where: { keyId }, relations: { user: true } });
  const { principal, ctx } = sessionCaller(key.user!.externalId);
  await nest.get(DeveloperKeysService).revoke(principal, key.id, ctx);
}

/**
 * A provider-issued key of the session user `sub`, stored by DeveloperKeysService itself, behind the
 * request's validation: also the rows the HTTP surface refuses today (a `ksk_`-shaped provider key), as
 * stored before that check existed or by any other path.
 */
export async function storedProviderKey(
  nest: Nest,
  sub: string,
  dto: { billingProviderId: string; rawApiKey: string; label?: string },
): Promise<ApiKeyDto> {
  const { principal, ctx } = sessionCaller(sub);
  return (await nest.get(DeveloperKeysService).create(principal, dto, ctx)).key;
}

/**
 * The billing provider `slug`, enabled, as BILLING_PROVIDERS at start puts it in the catalog
 * (BillingProvidersService.sync); the providers already there stay as they are.
 */
export async function billingProvider(nest: Nest, slug: string, name = slug): Promise<BillingProvider> {
  const catalog = nest.get(DataSource).getRepository(BillingProvider);
  const current = await catalog.find();
  await nest.get(BillingProvidersService).sync([
    ...current
      .filter((p) => p.slug !== slug)
      .map(({ slug, name, authUrl, apiBase, enabled }) => ({ slug, name, authUrl, apiBase, enabled })),
    {
      slug,
      name,
      authUrl: `https://${slug}.test/auth`,
      apiBase: `https://api.${slug}.test`,
      enabled: true,
    },
  ]);
  return catalog.findOneByOrFail({ slug });
}

/**
 * `count` live org tokens recorded as created by `createdBy`, in one INSERT through the org-token entity's
 * repository, each from a real token (generateOrgToken, as a mint makes it). Not audited: for volume, not
 * for a mint's side effects (POST /api/v1/org/tokens has its own tests). Returns the plaintexts.
 */
export async function orgTokens(
  nest: Nest,
  count: number,
  { createdBy, name = null }: { createdBy: string; name?: string | null },
): Promise<string[]> {
  const generated = Array.from({ length: count }, () => generateOrgToken());
  await nest
    .get(DataSource)
    .getRepository(OrgToken)
    .insert(
      generated.map(({ hash, prefix }) => ({
        name,
        tokenHash: hash,
        prefix,
        createdBy,
        mintedFor: createdBy,
      })),
    );
  return generated.map((g) => g.token);
}

/** Removes the org tokens `createdBy` made: fixture cleanup (no route deletes a token; revoked rows stay). */
export async function deleteOrgTokens(nest: Nest, createdBy: string): Promise<void> {
  await nest.get(DataSource).getRepository(OrgToken).delete({ createdBy });
}

/**
 * `count` audit events of `actor`, a day and more old (older than anything the test did), one second apart,
 * written through the audit table's entity repository (AuditService stamps the current time).
 */
export async function pastAuditEvents(nest: Nest, count: number, actor = 'test'): Promise<void> {
  const dayAgo = Date.now() - 86_400_000;
  await nest
    .get(DataSource)
    .getRepository(AuditEvent)
    .insert(
      Array.from({ length: count }, (_, i) => ({
        actor,
        action: 'test.filler',
        targetType: 'none',
        at: new Date(dayAgo - (i + 1) * 1000),
      })),
    );
}

export interface Provisioned {
  apiKey: string;
  userId: string;
  projectId: string;
  keyId: string;
  /** The key this one replaced, or null. */
  previousKeyId: string | null;
}

/** A key provisioned through the real endpoint, `POST /api/v1/internal/provision-apikey`. */
export async function provision(
  http: Server,
  token: string,
  body: {
    externalId: string;
    email?: string;
    name?: string;
    keyName?: string;
    orgId?: string;
    graceSeconds?: number;
  },
): Promise<Provisioned> {
  const res = await request(http)
    .post('/api/v1/internal/provision-apikey')
    .set('authorization', `Bearer ${token}`)
    .send({ email: `${body.externalId.replace(/\W/g, '')}@example.com`, orgId: ALLOWED_ORG, ...body });
  if (res.status !== 200) throw new Error(`provision failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Provisioned;
}

/**
 * A developer key minted through the real endpoint, `POST /api/v1/developer/keys`, by the session bearer
 * `authorization`: the 201's body, the key's view and its secret (shown this once).
 */
export async function mintDeveloperKey<K = ApiKeyDto>(
  http: Server,
  authorization: string,
  body: object = {},
): Promise<{ key: K; secret: string }> {
  const res = await request(http)
    .post('/api/v1/developer/keys')
    .set('authorization', authorization)
    .send(body);
  if (res.status !== 201) throw new Error(`mint failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { key: K; secret: string };
}

/**
 * An org token minted through the real endpoint, `POST /api/v1/org/tokens`, by the admin credential
 * `authorization`: the 201's body (`id`, and the `token` shown this once).
 */
export async function mintOrgToken(
  http: Server,
  authorization: string,
  body: { name?: string; scopes?: string[]; expiresAt?: string } = {},
): Promise<{ id: string; token: string }> {
  const res = await request(http).post('/api/v1/org/tokens').set('authorization', authorization).send(body);
  if (res.status !== 201) throw new Error(`org token mint failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; token: string };
}

// States no API can produce, forced with SQL.

/** Org token `id` expired `ago` (an interval) ago; a token can only be minted with a future expiry. */
export async function expireOrgToken(db: TestDatabase, id: string, ago = '1 second'): Promise<void> {
  await db.query(`UPDATE org_tokens SET expires_at = now() - $2::interval WHERE id = $1`, [id, ago]);
}

/** Rolled org token `id` whose grace ended a second ago (a roll gives at least its grace, or ends it at once). */
export async function endOrgTokenGrace(db: TestDatabase, id: string): Promise<void> {
  await db.query(
    `UPDATE org_tokens SET grace_ends_at = now() - interval '1 second' WHERE id = $1 AND successor_id IS NOT NULL`,
    [id],
  );
}

/** API key `keyId` (lookup id) expired `ago` (an interval) ago; a key can only be given a future expiry. */
export async function expireApiKey(db: TestDatabase, keyId: string, ago = '1 minute'): Promise<void> {
  await db.query(`UPDATE api_keys SET expires_at = now() - $2::interval WHERE key_id = $1`, [keyId, ago]);
}

/** A disabled user (no route disables one yet): their keys resolve to 403 and provisioning refuses them. */
export async function disableUser(
  db: TestDatabase,
  who: { id: string } | { externalId: string },
): Promise<void> {
  if ('id' in who) await db.query('UPDATE users SET disabled_at = now() WHERE id = $1', [who.id]);
  else await db.query('UPDATE users SET disabled_at = now() WHERE external_id = $1', [who.externalId]);
}
