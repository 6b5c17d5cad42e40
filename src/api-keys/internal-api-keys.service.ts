import { Injectable } from '@nestjs/common';
import type { ResolvedApiKey } from 'src/api-keys/api-key-cache';
import { ApiKeyResolver } from 'src/api-keys/api-key-resolver.service';
import type { ResolveApiKeyResponseDto } from 'src/api-keys/dto/internal-api-keys.dto';
import { TokenSigner } from 'src/crypto/token-signer.service';

/** Lifetime of the JWT minted by each resolution. */
export const RESOLVED_TOKEN_TTL_SECONDS = 300;

@Injectable()
export class InternalApiKeysService {
  constructor(
    private readonly resolver: ApiKeyResolver,
    private readonly signer: TokenSigner,
  ) {}

  /**
   * The key's identity (possibly from the cache) and a JWT minted for this call only. A cache hit is
   * answered synchronously (no promise on the hot path); a miss answers once the lookup has.
   */
  resolve(presented: string): ResolveApiKeyResponseDto | Promise<ResolveApiKeyResponseDto> {
    const key = this.resolver.resolve(presented);
    return key instanceof Promise ? key.then((k) => this.answer(k)) : this.answer(key);
  }

  private answer(key: ResolvedApiKey): ResolveApiKeyResponseDto {
    const { token, expiresAt } = this.signer.sign(
      { sub: key.user.id, external_id: key.user.externalId, project_id: key.project.id, key_id: key.keyId },
      RESOLVED_TOKEN_TTL_SECONDS,
      // The token never outlives the key it was minted for.
      key.expiresAt,
    );
    return {
      keyId: key.keyId,
      user: { ...key.user },
      project: { ...key.project },
      allowedOrigins: [...key.allowedOrigins],
      expiresAt: key.expiresAt?.toISOString() ?? null,
      token,
      tokenExpiresAt: expiresAt.toISOString(),
    };
  }
}
