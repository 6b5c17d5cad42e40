import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { authConfig, type AuthConfig } from 'src/auth/auth.config';
import { SecretMatcher } from 'src/auth/secret-matcher';
import { ApiError } from 'src/errors/api-error';

/**
 * `/metrics` (the runtime's version, per-route traffic): with METRICS_TOKEN set, only that bearer token
 * scrapes it; unset, it is public, and production says so at every start.
 */
@Injectable()
export class MetricsAuthService implements OnApplicationBootstrap {
  private readonly token: SecretMatcher | undefined;

  constructor(@Inject(authConfig.KEY) private readonly config: AuthConfig) {
    this.token = config.metricsToken === undefined ? undefined : new SecretMatcher(config.metricsToken);
  }

  onApplicationBootstrap(): void {
    if (this.token === undefined && this.config.isProduction) {
      new Logger('Metrics').warn(
        'METRICS_TOKEN is unset: /metrics is public (runtime version, per-route traffic). Set it and give it ' +
          'to the scraper as a bearer token',
      );
    }
  }

  /** Throws the one 401 unless `credential` is METRICS_TOKEN (or none is configured). */
  authenticate(credential: string | undefined): void {
    if (this.token !== undefined && !this.token.matches(credential)) throw ApiError.unauthorized();
  }
}
