import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AdminAuthService } from 'src/auth/admin-auth.service';
import { AuthGuard } from 'src/auth/auth.guard';
import { M2MAuthService } from 'src/auth/m2m-auth.service';
import { SessionAuthService } from 'src/auth/session-auth.service';

@Global()
@Module({
  providers: [
    AdminAuthService,
    SessionAuthService,
    M2MAuthService,
    { provide: APP_GUARD, useClass: AuthGuard },
  ],
  exports: [AdminAuthService, SessionAuthService, M2MAuthService],
})
export class AuthModule {}
