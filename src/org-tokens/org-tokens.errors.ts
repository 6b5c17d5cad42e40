import { ApiError } from 'src/errors/api-error';
import { assertUnreachable } from 'src/errors/assert-unreachable';

export enum OrgTokenErrorCode {
  NotFound = 'org_token_not_found',
  /** A bootstrap mint that lost the race to the first token: bootstrap is closed, so it is the guard's 401. */
  BootstrapClosed = 'org_token_bootstrap_closed',
}

/** The API error each org-token failure answers with. */
export function orgTokenError(code: OrgTokenErrorCode): ApiError {
  switch (code) {
    case OrgTokenErrorCode.NotFound:
      return ApiError.notFound('Org token');
    case OrgTokenErrorCode.BootstrapClosed:
      return ApiError.unauthorized();
    default:
      return assertUnreachable(code);
  }
}
