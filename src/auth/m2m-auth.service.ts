import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import type { M2MPrincipal } from 'src/auth/principal';
import { ApiError } from 'src/errors/api-error';

@Injectable()
export class M2MAuthService {
  // Replaced by the passport-jwt M2M strategy (internal ApiKeys issue).
  authenticate(_req: Request, _scope: string): Promise<M2MPrincipal> {
    return Promise.reject(ApiError.unauthorized());
  }
}
