/**
 * Actor labels as they appear in audit rows, `createdBy` and logs. Greppable; one place to change. A module
 * of constants only, so the services that stamp an actor import it without importing the guard.
 */
export const ACTOR_BOOTSTRAP = 'bootstrap';
export const ACTOR_SESSION_PREFIX = 'session:';
export const ACTOR_ORG_TOKEN_PREFIX = 'org-token:';
export const ACTOR_ADMIN_TOKEN = 'admin-token';
export const ACTOR_API_KEY_PREFIX = 'api-key:';
