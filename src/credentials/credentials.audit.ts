/** The audit actions of the MCP OAuth credential store. Metadata never holds a token or a secret. */
export const CredentialsAudit = {
  Deposit: 'mcp_oauth_credential.deposit',
  Delete: 'mcp_oauth_credential.delete',
  /** The token endpoint answered `invalid_grant`: the credential waits for the user to authorize again. */
  ReauthorizationRequired: 'mcp_oauth_credential.reauthorization_required',
  /** After an offboarding deleted it: whether its revocation endpoint (RFC 7009) confirmed (`upstreamRevoked`). */
  UpstreamRevoke: 'mcp_oauth_credential.upstream_revoke',
} as const;

export const CREDENTIAL_TARGET = 'mcp_oauth_credential';
