import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeyResolutionModule } from 'src/api-keys/api-key-resolution.module';
import { ApiKeyResolver } from 'src/api-keys/api-key-resolver.service';
import { ADMIN_API_KEY_VERIFIER } from 'src/auth/admin-api-key.verifier';
import { AdminAuthService } from 'src/auth/admin-auth.service';
import { AdminController } from 'src/auth/admin.controller';
import { AuthGuard } from 'src/auth/auth.guard';
import { M2MAuthService } from 'src/auth/m2m-auth.service';
import { SessionAuthService } from 'src/auth/session-auth.service';
import { OrgTokensModule } from 'src/org-tokens/org-tokens.module';

@Global()
@Module({
  imports: [OrgTokensModule, ApiKeyResolutionModule],
  controllers: [AdminController],
  providers: [
    AdminAuthService,
    { provide: ADMIN_API_KEY_VERIFIER, useExisting: ApiKeyResolver },
    SessionAuthService,
    M2MAuthService,
    { provide: APP_GUARD, useClass: AuthGuard },
  ],
  exports: [AdminAuthService, SessionAuthService, M2MAuthService],
})
export class AuthModule {}
