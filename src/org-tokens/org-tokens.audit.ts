/** The audit actions of org tokens. */
export const OrgTokensAudit = {
  Mint: 'org_token.mint',
  Revoke: 'org_token.revoke',
} as const;
