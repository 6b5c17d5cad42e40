/**
 * The audit actions of leak response. A revocation itself is written with the key's or token's own action
 * (`api_key.revoke`, `org_token.revoke`) and `reason` in its metadata, like every other revocation.
 */
export const LeaksAudit = {
  /** A verified secret-scanning report: how many matches, how many were ours, how many it revoked. */
  ScanningReport: 'secret_scanning.report',
  /** A public revoke that revoked nothing (garbage, unknown, already revoked): who asked, from where. */
  PublicRevokeUnmatched: 'public_revoke.unmatched',
} as const;
