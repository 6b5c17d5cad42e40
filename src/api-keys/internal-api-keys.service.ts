import { Injectable } from '@nestjs/common';
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

  /** The key's identity (possibly from the cache) and a JWT minted for this call only. */
  async resolve(presented: string): Promise<ResolveApiKeyResponseDto> {
    const key = await this.resolver.resolve(presented);
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
