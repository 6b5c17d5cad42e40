import type { ApiKey, ApiKeyStatus } from 'src/api-keys/api-key.entity';
import type { ApiKeyDto } from 'src/api-keys/dto/api-key.dto';
import { graceEndMs } from 'src/api-keys/grace';
import type { BillingProvider } from 'src/billing-providers/billing-provider.entity';
import type { Project } from 'src/projects/project.entity';
import { iso, isoOrNull } from 'src/validation/instants';

/** What a view of a key reads: the key's own columns, its project and its billing provider. */
export type KeyViewSource = Pick<
  ApiKey,
  | 'id'
  | 'label'
  | 'keyPrefix'
  | 'allowedOrigins'
  | 'scopes'
  | 'createdAt'
  | 'lastUsedAt'
  | 'lastUsedBy'
  | 'revokedAt'
  | 'revokedReason'
  | 'disabledAt'
  | 'expiresAt'
  | 'predecessorId'
  | 'successorId'
  | 'graceEndsAt'
  | 'graceUnusedSeconds'
  | 'rolledAt'
> & {
  project: Pick<Project, 'id' | 'name'>;
  billingProvider: Pick<BillingProvider, 'id' | 'slug' | 'name'> | null;
};

/**
 * A key as every surface shows it (the developer's keys, the admin inventory): the fields of `ApiKeyDto`,
 * with the status and a rolled key's grace end computed for `now`. A surface adds its own fields to it.
 */
export function keyViewFields(k: KeyViewSource, now = Date.now()): ApiKeyDto {
  const graceEnd = graceEndedAt(k, now);
  const bp = k.billingProvider;
  return {
    id: k.id,
    label: k.label,
    keyPrefix: k.keyPrefix,
    status: statusOf(k, now),
    project: { id: k.project.id, name: k.project.name },
    billingProvider: bp ? { id: bp.id, slug: bp.slug, name: bp.name } : null,
    allowedOrigins: k.allowedOrigins,
    scopes: k.scopes,
    createdAt: iso(k.createdAt),
    lastUsedAt: isoOrNull(k.lastUsedAt),
    lastUsedBy: k.lastUsedBy,
    revokedAt: isoOrNull(graceEnd === undefined ? k.revokedAt : graceEnd),
    revokedReason: graceEnd === undefined ? k.revokedReason : 'rolled',
    disabledAt: isoOrNull(k.disabledAt),
    expiresAt: isoOrNull(k.expiresAt),
    predecessorId: k.predecessorId,
    successorId: k.successorId,
    graceEndsAt: isoOrNull(k.graceEndsAt),
  };
}

/** When a rolled key's grace ended, if it did and nothing revoked the key before (decision 0060). */
export function graceEndedAt(
  k: Pick<ApiKey, 'revokedAt' | 'graceEndsAt' | 'graceUnusedSeconds' | 'rolledAt' | 'lastUsedAt'>,
  now: number,
): Date | undefined {
  if (k.revokedAt) return undefined;
  const end = graceEndMs(k);
  return end !== null && end <= now ? new Date(end) : undefined;
}

/**
 * A revocation is for good and wins, and so does the end of a rolled key's grace (REVOKED, reason `rolled`,
 * computed: decision 0060); an expiry cannot be switched back on; a disabled key can.
 */
export function statusOf(
  k: Pick<
    ApiKey,
    | 'revokedAt'
    | 'expiresAt'
    | 'disabledAt'
    | 'graceEndsAt'
    | 'graceUnusedSeconds'
    | 'rolledAt'
    | 'lastUsedAt'
  >,
  now = Date.now(),
): ApiKeyStatus {
  if (k.revokedAt) return 'REVOKED';
  const graceEnd = graceEndMs(k);
  if (graceEnd !== null && graceEnd <= now) return 'REVOKED';
  if (k.expiresAt && k.expiresAt.getTime() <= now) return 'EXPIRED';
  if (k.disabledAt) return 'DISABLED';
  return 'ACTIVE';
}
