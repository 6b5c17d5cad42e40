import { ApiError } from 'src/errors/api-error';
import { assertUnreachable } from 'src/errors/assert-unreachable';

export enum OrgTokenErrorCode {
  NotFound = 'org_token_not_found',
  /** A bootstrap mint that lost the race to the first token: bootstrap is closed, so it is the guard's 401. */
  BootstrapClosed = 'org_token_bootstrap_closed',
  /** A mint or roll would give a token scopes the calling credential does not hold. */
  ScopesNotHeld = 'org_token_scopes_not_held',
  /** Only a live token that was never rolled can be rolled. */
  RollRevoked = 'org_token_roll_revoked',
  RollExpired = 'org_token_roll_expired',
  RollRolled = 'org_token_roll_rolled',
  /** The user whose lineage the new token would join (decision 0110) is disabled: offboarded. */
  OwnerDisabled = 'org_token_owner_disabled',
}

/** The API error each org-token failure answers with; `scopes` names the scopes of ScopesNotHeld. */
export function orgTokenError(code: OrgTokenErrorCode, scopes: readonly string[] = []): ApiError {
  switch (code) {
    case OrgTokenErrorCode.NotFound:
      return ApiError.notFound('Org token');
    case OrgTokenErrorCode.BootstrapClosed:
      return ApiError.unauthorized();
    case OrgTokenErrorCode.ScopesNotHeld:
      return ApiError.forbidden(
        `A credential cannot give a token scopes it does not hold itself: ${scopes.join(', ')}.`,
      );
    case OrgTokenErrorCode.RollRevoked:
      return ApiError.conflict('The org token is revoked: only a live token can be rolled.');
    case OrgTokenErrorCode.RollExpired:
      return ApiError.conflict('The org token has expired: only a live token can be rolled.');
    case OrgTokenErrorCode.RollRolled:
      return ApiError.conflict('The org token was already rolled: roll its successor instead.');
    case OrgTokenErrorCode.OwnerDisabled:
      return ApiError.identityNotAllowed(
        'The user this token would belong to is disabled: no org token can be minted or rolled for them.',
      );
    default:
      return assertUnreachable(code);
  }
}
