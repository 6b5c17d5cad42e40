/** The audit actions of the API-key lifecycle. */
export const ApiKeysAudit = {
  Create: 'api_key.create',
  Revoke: 'api_key.revoke',
  /** A change of label, expiry or allowed origins. */
  Update: 'api_key.update',
  Disable: 'api_key.disable',
  Enable: 'api_key.enable',
  /** A roll, on the old key: its successor and its grace in the metadata. The grace's end writes nothing. */
  Roll: 'api_key.roll',
  Provision: 'api_key.provisioned',
} as const;
