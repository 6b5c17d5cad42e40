import { ApiError } from 'src/errors/api-error';
import { assertUnreachable } from 'src/errors/assert-unreachable';

export enum OrgTokenErrorCode {
  NotFound = 'org_token_not_found',
}

/** The API error each org-token failure answers with. */
export function orgTokenError(code: OrgTokenErrorCode): ApiError {
  switch (code) {
    case OrgTokenErrorCode.NotFound:
      return ApiError.notFound('Org token');
    default:
      return assertUnreachable(code);
  }
}
