/** The audit actions of the admin inventory and offboarding. Metadata holds the reason, never a secret. */
export const OffboardingAudit = {
  /** A user disabled by an admin (the kill switch); metadata: reason and what was revoked. */
  UserDisable: 'user.disable',
  UserEnable: 'user.enable',
} as const;
