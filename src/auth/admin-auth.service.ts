import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import type { AdminPrincipal } from 'src/auth/principal';
import { ApiError } from 'src/errors/api-error';

@Injectable()
export class AdminAuthService {
  // Replaced by the tiered implementation (OrgTokens issue).
  authenticate(_req: Request): Promise<AdminPrincipal> {
    return Promise.reject(ApiError.unauthorized());
  }
}
