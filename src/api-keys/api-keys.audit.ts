/** The audit actions of the API-key lifecycle. */
export const ApiKeysAudit = {
  Create: 'api_key.create',
  Revoke: 'api_key.revoke',
  Provision: 'api_key.provisioned',
} as const;
