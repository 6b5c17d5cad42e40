import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import type { SessionPrincipal } from 'src/auth/principal';
import { ApiError } from 'src/errors/api-error';

@Injectable()
export class SessionAuthService {
  // Replaced by the passport-jwt session strategy (OrgTokens issue).
  authenticate(_req: Request): Promise<SessionPrincipal> {
    return Promise.reject(ApiError.unauthorized());
  }
}
