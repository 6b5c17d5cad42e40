import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { KeyObject } from 'node:crypto';
import { DataSource } from 'typeorm';
import { authConfig, type AuthConfig } from 'src/auth/auth.config';
import {
  DEVELOPMENT_ALGORITHM,
  loadOrCreateDevelopmentIssuerKey,
  type DevelopmentIssuerKeyPair,
} from 'src/auth/development-issuer/development-issuer';
import { KeySourceUnavailableError, NoMatchingKeyError, type KeySource } from 'src/auth/jwt/key-set';

export const DEVELOPMENT_ISSUER_WARNING =
  'No identity provider is configured (no AUTH_SESSION_* or AUTH_M2M_* variable): keysmith trusts its ' +
  'development issuer for sessions and internal services; `npm run dev:token` mints its tokens (its ' +
  'sessions are org admins unless ORG_ID is set). ' +
  'Production never trusts it (docs/configuration.md#the-development-issuer)';

/**
 * The development issuer's public key, as the key source of both JWT tiers when it is on (AUTH_DEVELOPMENT_ISSUER,
 * decision 0045): loaded from the database, or generated there the first time, before the app serves.
 */
@Injectable()
export class DevelopmentIssuerService implements OnModuleInit, KeySource {
  private readonly logger = new Logger('DevelopmentIssuer');
  private key?: DevelopmentIssuerKeyPair;

  constructor(
    @Inject(authConfig.KEY) private readonly config: AuthConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  get enabled(): boolean {
    return this.config.developmentIssuer;
  }

  async onModuleInit(): Promise<void> {
    if (!this.enabled) return;
    this.key = await loadOrCreateDevelopmentIssuerKey(this.dataSource, (kid) =>
      this.logger.log({ kid }, 'generated the development issuer key'),
    );
    // At every start, like the other development-only conveniences.
    this.logger.warn(DEVELOPMENT_ISSUER_WARNING);
  }

  keyFor(kid: string | undefined, alg: string): Promise<KeyObject> {
    if (!this.key)
      return Promise.reject(new KeySourceUnavailableError('the development issuer key is not loaded'));
    if ((kid !== undefined && kid !== this.key.kid) || alg !== DEVELOPMENT_ALGORITHM) {
      return Promise.reject(new NoMatchingKeyError());
    }
    return Promise.resolve(this.key.publicKey);
  }
}
