import { Global, Module, type DynamicModule, type ModuleMetadata, type Type } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AdminAuthService } from 'src/auth/admin/admin-auth.service';
import {
  ADMIN_API_KEY_VERIFIER,
  ADMIN_AUDIT_TRAIL,
  BOOTSTRAP_LATCH,
  DISABLED_IDENTITIES,
  ORG_TOKEN_VERIFIER,
  type AdminApiKeyVerifier,
  type AdminAuditTrail,
  type BootstrapLatch,
  type DisabledIdentities,
  type OrgTokenVerifier,
} from 'src/auth/admin/admin-auth.ports';
import { AdminController } from 'src/auth/admin/admin.controller';
import { authConfig } from 'src/auth/auth.config';
import { DevelopmentIssuerKey } from 'src/auth/development-issuer/development-issuer-key.entity';
import { DevelopmentIssuerService } from 'src/auth/development-issuer/development-issuer.service';
import { AuthGuard } from 'src/auth/auth.guard';
import { M2MAuthService } from 'src/auth/jwt/m2m-auth.service';
import { SessionAuthService } from 'src/auth/jwt/session-auth.service';
import { MetricsAuthService } from 'src/auth/metrics-auth.service';
import { provideConfig } from 'src/config/config-slice';

/** The features (and the audit trail) behind the AdminAuth ports, bound by the composition root (AppModule). */
export interface AuthModuleOptions {
  /** The modules that export the classes below. */
  imports: NonNullable<ModuleMetadata['imports']>;
  orgTokens: Type<OrgTokenVerifier>;
  bootstrapLatch: Type<BootstrapLatch>;
  apiKeys: Type<AdminApiKeyVerifier>;
  auditTrail: Type<AdminAuditTrail>;
  disabledIdentities: Type<DisabledIdentities>;
}

/**
 * Authentication: the deny-by-default guard, the AdminAuth tiers and the two JWT tiers. It imports no
 * feature, nor `audit/`: what the admin tiers consult or record is reached through ports that AppModule binds.
 */
@Global()
@Module({})
export class AuthModule {
  static forRoot(options: AuthModuleOptions): DynamicModule {
    return {
      module: AuthModule,
      imports: [...options.imports, TypeOrmModule.forFeature([DevelopmentIssuerKey])],
      controllers: [AdminController],
      providers: [
        provideConfig(authConfig),
        { provide: ORG_TOKEN_VERIFIER, useExisting: options.orgTokens },
        { provide: BOOTSTRAP_LATCH, useExisting: options.bootstrapLatch },
        { provide: ADMIN_API_KEY_VERIFIER, useExisting: options.apiKeys },
        { provide: ADMIN_AUDIT_TRAIL, useExisting: options.auditTrail },
        { provide: DISABLED_IDENTITIES, useExisting: options.disabledIdentities },
        AdminAuthService,
        DevelopmentIssuerService,
        SessionAuthService,
        M2MAuthService,
        MetricsAuthService,
        AuthGuard,
      ],
      exports: [AdminAuthService, SessionAuthService, M2MAuthService, AuthGuard],
    };
  }
}
