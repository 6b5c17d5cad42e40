import { Inject, Injectable } from '@nestjs/common';
import type { ResolvedApiKey, Resolution } from 'src/api-key-resolution/api-key-cache';
import { ApiKeyLookup } from 'src/api-key-resolution/api-key-lookup';
import {
  ApiKeyResolutionErrorCode,
  insufficientScopeError,
  keyRefusal,
} from 'src/api-key-resolution/api-key-resolution.errors';
import { ApiKeyUsageRecorder } from 'src/api-key-resolution/api-key-usage-recorder';
import type { ResolveApiKeyResponseDto } from 'src/api-key-resolution/dto/resolve-api-key.dto';
import { ApiKeysRepository } from 'src/api-keys/api-keys.repository';
import { authConfig, type AuthConfig } from 'src/auth/auth.config';
import { TokenSigner } from 'src/crypto/signing/token-signer';
import { KeyUsageCounters } from 'src/key-usage/key-usage-counters';
import { isoOrNull } from 'src/validation/instants';

/** Lifetime of the JWT minted by each resolution. */
export const RESOLVED_TOKEN_TTL_SECONDS = 300;

/**
 * Turns a presented API key into an identity and a JWT minted for this call only (`resolve`), or, for the
 * deprecated API-key admin tier, into a yes or no (`verify`: only keys an ORG_ID admin minted). Every
 * successful use is recorded, a resolve with its M2M client; every resolve of an existing key is counted,
 * answered or refused (usage, decision 0095).
 */
@Injectable()
export class ApiKeyResolutionService {
  private readonly orgId: string | undefined;

  constructor(
    private readonly lookup: ApiKeyLookup,
    private readonly usage: ApiKeyUsageRecorder,
    private readonly signer: TokenSigner,
    private readonly keys: ApiKeysRepository,
    private readonly counters: KeyUsageCounters,
    @Inject(authConfig.KEY) { orgId }: AuthConfig,
  ) {
    this.orgId = orgId;
  }

  /**
   * The key's identity and a fresh JWT, or throws: 401 `invalid_api_key` (malformed, unknown, wrong secret,
   * revoked, expired — all alike), 403 `identity_not_allowed` (the user is disabled), 403
   * `insufficient_scope` (a live key without every one of `requiredScopes`; checked only once the key is known
   * to be live, so a dead key's scopes never show), 503 `key_resolution_unavailable` with Retry-After. A
   * malformed key or a cached refusal is answered synchronously; a cached positive once the revocation feed's
   * barrier has passed; a miss once the lookup has.
   */
  resolve(
    presented: string,
    requiredScopes: readonly string[] | undefined,
    clientId: string,
  ): ResolveApiKeyResponseDto | Promise<ResolveApiKeyResponseDto> {
    const found = this.lookup.find(presented);
    return found instanceof Promise
      ? found.then((r) => this.answer(r, requiredScopes, clientId))
      : this.answer(found, requiredScopes, clientId);
  }

  /**
   * The deprecated API-key admin tier's verifier: the live key and its user when the key proves admin rights,
   * otherwise null. A key proves them only when an admin of ORG_ID minted it from a session (recorded on the
   * key at mint) and ORG_ID is still that org: a self-service developer's key, a provisioned key, and any key
   * while ORG_ID is unset, are refused (issue 12, item 3; decision 0050). Keys that would not resolve
   * (including a disabled user's) are null too. Mints nothing. Throws 503 `key_resolution_unavailable` when the
   * database cannot be reached, so an outage is not reported as a bad credential.
   */
  async verify(presented: string): Promise<ResolvedApiKey | null> {
    const resolution = await this.lookup.find(presented);
    if (resolution.kind !== 'ok' || this.orgId === undefined) return null;
    if ((await this.keys.adminOrgOf(resolution.key.id)) !== this.orgId) return null;
    this.usage.record(resolution.key.id);
    return resolution.key;
  }

  /**
   * A use of the key, with the M2M client that resolved it (lastUsedAt, lastUsedBy, the key's consumers), is
   * recorded for a 200 only: refusals are not uses (decision 0065). The usage counters count a 200 as valid and
   * every refusal of a key whose secret matched (revoked, expired, switched off, user disabled, insufficient
   * scope) as refused; a malformed, unknown or wrong key names no key and is not counted (decision 0095).
   */
  private answer(
    resolution: Resolution,
    requiredScopes: readonly string[] | undefined,
    clientId: string,
  ): ResolveApiKeyResponseDto {
    switch (resolution.kind) {
      case 'ok':
        if (
          requiredScopes !== undefined &&
          requiredScopes.length > 0 &&
          !holdsAll(resolution.key.scopeSet, requiredScopes)
        ) {
          this.counters.refused(resolution.key.id);
          throw insufficientScopeError(missingScopes(resolution.key.scopeSet, requiredScopes));
        }
        this.usage.record(resolution.key.id, clientId);
        this.counters.valid(resolution.key.id);
        return this.withToken(resolution.key);
      case 'invalid':
        if (resolution.id !== undefined) this.counters.refused(resolution.id);
        throw keyRefusal(ApiKeyResolutionErrorCode.InvalidKey);
      case 'user_disabled':
        if (resolution.id !== undefined) this.counters.refused(resolution.id);
        throw keyRefusal(ApiKeyResolutionErrorCode.UserDisabled);
    }
  }

  private withToken(key: ResolvedApiKey): ResolveApiKeyResponseDto {
    const { token, expiresAt } = this.signer.sign(
      {
        sub: key.user.id,
        external_id: key.user.externalId,
        project_id: key.project.id,
        key_id: key.keyId,
        // Left out of the JWT when the key has no scopes (JSON drops undefined).
        scope: key.scopeClaim,
      },
      RESOLVED_TOKEN_TTL_SECONDS,
      // The token never outlives the key it was minted for, nor a rolled key's grace (never after its expiry).
      key.rolling === undefined ? key.expiresAt : new Date(key.rolling.graceEndsAt),
    );
    const answer: ResolveApiKeyResponseDto = {
      keyId: key.keyId,
      user: { ...key.user },
      project: { ...key.project },
      allowedOrigins: [...key.allowedOrigins],
      scopes: key.scopes,
      expiresAt: isoOrNull(key.expiresAt),
      token,
      tokenExpiresAt: expiresAt.toISOString(),
    };
    if (key.rolling !== undefined) answer.rolling = key.rolling;
    return answer;
  }
}

function holdsAll(held: ReadonlySet<string>, required: readonly string[]): boolean {
  for (const scope of required) if (!held.has(scope)) return false;
  return true;
}

/** The required scopes the key lacks, in the order they were asked. */
function missingScopes(held: ReadonlySet<string>, required: readonly string[]): string[] {
  return required.filter((scope) => !held.has(scope));
}
