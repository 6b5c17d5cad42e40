/** The audit actions AdminAuth records. */
export const AdminAudit = {
  /** A mutating admin request let in by the bootstrap tier. */
  BootstrapUse: 'admin.bootstrap_use',
} as const;
