/** The audit actions of the provider login handoff. Their metadata never holds the key, the state or the token. */
export const OAuthSessionsAudit = {
  Start: 'oauth_session.start',
  Complete: 'oauth_session.complete',
  Fail: 'oauth_session.fail',
  Redeem: 'oauth_session.redeem',
} as const;
