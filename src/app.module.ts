import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import type { DestinationStream } from 'pino';
import { ApiKeyResolutionModule } from 'src/api-key-resolution/api-key-resolution.module';
import { ApiKeyResolutionService } from 'src/api-key-resolution/api-key-resolution.service';
import { ApiKeysModule } from 'src/api-keys/api-keys.module';
import { ENCRYPTED_TABLES, loadAppConfig } from 'src/app.registrations';
import { AuditModule } from 'src/audit/audit.module';
import { AuditService } from 'src/audit/audit.service';
import { AuthGuard } from 'src/auth/auth.guard';
import { AuthModule } from 'src/auth/auth.module';
import { BillingProvidersModule } from 'src/billing-providers/billing-providers.module';
import { appConfig } from 'src/config/app-config';
import type { LoadedConfig } from 'src/config/config-slice';
import { AppConfigModule } from 'src/config/config.module';
import type { Env } from 'src/config/env-reader';
import { CredentialsModule } from 'src/credentials/credentials.module';
import { EventsModule } from 'src/events/events.module';
import { EncryptionModule } from 'src/crypto/encryption/encryption.module';
import { SigningModule } from 'src/crypto/signing/signing.module';
import { DatabaseModule } from 'src/database/database.module';
import { HttpExceptionFilter } from 'src/errors/http-exception.filter';
import { HealthModule } from 'src/health/health.module';
import { KeyUsageModule } from 'src/key-usage/key-usage.module';
import { LeaksModule } from 'src/leaks/leaks.module';
import { LoggingModule } from 'src/logging/logging.module';
import { MetricsModule } from 'src/metrics/metrics.module';
import { OutboundModule } from 'src/http/outbound.module';
import { OAuthSessionsModule } from 'src/oauth-sessions/oauth-sessions.module';
import { OffboardingModule } from 'src/offboarding/offboarding.module';
import { OrgTokensModule } from 'src/org-tokens/org-tokens.module';
import { OrgTokensService } from 'src/org-tokens/org-tokens.service';
import { ProjectsModule } from 'src/projects/projects.module';
import { IpRateLimitGuard, PrincipalRateLimitGuard } from 'src/rate-limit/rate-limit.guard';
import { RateLimitModule } from 'src/rate-limit/rate-limit.module';
import { UsersModule } from 'src/users/users.module';
import { UsersService } from 'src/users/users.service';
import { createValidationPipe } from 'src/validation/validation.pipe';

export interface AppModuleOptions {
  /** The environment, validated here; or a configuration `loadAppConfig` already validated (main.ts). */
  env?: Env;
  config?: LoadedConfig;
  /** Where logs go; tests pass a capturing stream. Default: stdout. */
  logDestination?: DestinationStream;
}

/**
 * The composition root: the cross-cutting modules, the features, the bindings of AuthModule's ports to the
 * features that implement them, and the global enhancers in the order they run.
 */
@Module({})
export class AppModule {
  static forRoot({ env, config: loaded, logDestination }: AppModuleOptions): DynamicModule {
    const config = loaded ?? loadAppConfig(env ?? {});
    return {
      module: AppModule,
      imports: [
        // Cross-cutting
        AppConfigModule.forRoot(config),
        LoggingModule.forRoot(config.get(appConfig), logDestination),
        DatabaseModule,
        RateLimitModule,
        AuditModule,
        AuthModule.forRoot({
          imports: [OrgTokensModule, ApiKeyResolutionModule, UsersModule],
          orgTokens: OrgTokensService,
          bootstrapLatch: OrgTokensService,
          apiKeys: ApiKeyResolutionService,
          auditTrail: AuditService,
          disabledIdentities: UsersService,
        }),
        SigningModule,
        EncryptionModule.forRoot(ENCRYPTED_TABLES),
        OutboundModule,
        HealthModule,
        MetricsModule,
        // Features
        OrgTokensModule,
        UsersModule,
        ProjectsModule,
        BillingProvidersModule,
        ApiKeysModule,
        ApiKeyResolutionModule,
        KeyUsageModule,
        CredentialsModule,
        OAuthSessionsModule,
        LeaksModule,
        OffboardingModule,
        EventsModule,
      ],
      providers: [
        // Guards run in this order: the per-IP limits count every request, authenticated or not (brute force
        // is bounded); then authentication; then the limits of authenticated callers, which strangers cannot
        // use up.
        { provide: APP_GUARD, useExisting: IpRateLimitGuard },
        { provide: APP_GUARD, useExisting: AuthGuard },
        { provide: APP_GUARD, useExisting: PrincipalRateLimitGuard },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: HttpExceptionFilter },
      ],
    };
  }
}
