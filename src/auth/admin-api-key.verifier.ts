/** What the deprecated API-key admin tier needs from API-key verification. */
export interface AdminApiKeyVerifier {
  /** The live key `credential` is (not revoked, not expired, its user not disabled), or null. */
  verify(credential: string): Promise<{ keyPrefix: string } | null>;
}

/**
 * The API-key verifier the admin tier uses. AuthModule binds it to the API-keys resolver (`ApiKeyResolver`),
 * so an admin API key is checked exactly as any other presented key is.
 */
export const ADMIN_API_KEY_VERIFIER = Symbol('ADMIN_API_KEY_VERIFIER');
