import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import type { DestinationStream } from 'pino';
import { ApiKeysModule } from 'src/api-keys/api-keys.module';
import { InternalApiKeysModule } from 'src/api-keys/internal-api-keys.module';
import { AuditModule } from 'src/audit/audit.module';
import { AuthModule } from 'src/auth/auth.module';
import { loadAppConfig, type Env } from 'src/config/app-config';
import { AppConfigModule } from 'src/config/config.module';
import { DatabaseModule } from 'src/database/database.module';
import { HttpExceptionFilter } from 'src/errors/http-exception.filter';
import { HealthModule } from 'src/health/health.module';
import { RateLimitGuard, ThrottlingModule } from 'src/http/throttling';
import { createValidationPipe } from 'src/http/validation.pipe';
import { LoggingModule } from 'src/logging/logging.module';
import { MetricsModule } from 'src/metrics/metrics.module';
import { OrgTokensModule } from 'src/org-tokens/org-tokens.module';

export interface AppModuleOptions {
  env: Env;
  /** Where logs go; tests pass a capturing stream. Default: stdout. */
  logDestination?: DestinationStream;
}

@Module({})
export class AppModule {
  static forRoot({ env, logDestination }: AppModuleOptions): DynamicModule {
    const config = loadAppConfig(env);
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        LoggingModule.forRoot(config, logDestination),
        DatabaseModule,
        AuditModule,
        ThrottlingModule,
        AuthModule,
        OrgTokensModule,
        HealthModule,
        MetricsModule,
        ApiKeysModule,
        InternalApiKeysModule,
      ],
      providers: [
        // Global guards run in registration order and AppModule's come before AuthModule's AuthGuard: rate
        // limits count unauthenticated requests too (test/e2e/admin-auth-rate-limits.e2e-spec.ts).
        { provide: APP_GUARD, useExisting: RateLimitGuard },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: HttpExceptionFilter },
      ],
    };
  }
}
