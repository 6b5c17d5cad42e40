/** The audit actions of org tokens. */
export const OrgTokensAudit = {
  Mint: 'org_token.mint',
  Revoke: 'org_token.revoke',
  /** On the old token: rolled into a successor (minted in the same transaction, with its own `Mint` row). */
  Roll: 'org_token.roll',
} as const;
