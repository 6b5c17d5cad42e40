import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { User } from 'src/users/user.entity';
import { UsersRepository, type UserProfile } from 'src/users/users.repository';

export type { UserProfile } from 'src/users/users.repository';

/**
 * Users exist from the first time their identity (a session `sub`, a provisioning `externalId`) is seen.
 * Creation leans on the unique `external_id` constraint, never on check-then-insert, so two first requests
 * racing each other end with one row.
 */
@Injectable()
export class UsersService {
  constructor(private readonly users: UsersRepository) {}

  /**
   * The user with `externalId`, created if missing. A `profile` field that is given (not undefined)
   * overwrites the stored one; absent fields leave it alone. Pass the transaction's `manager` to take part
   * in it: nothing here raises a constraint error, so it never aborts the caller's transaction.
   */
  async findOrCreateByExternalId(
    externalId: string,
    profile: UserProfile = {},
    manager?: EntityManager,
  ): Promise<User> {
    if (profile.email === undefined && profile.name === undefined) {
      // The hot path (every session request): one indexed read, no write.
      const existing = await this.users.findByExternalId(externalId, manager);
      if (existing) return existing;
      await this.users.insertIfMissing(externalId, manager);
    } else {
      await this.users.upsertProfile(externalId, profile, manager);
    }
    return this.users.getByExternalId(externalId, manager);
  }

  /**
   * The user a provisioning call names, created if missing and recorded as provisioned for `orgId`. The
   * profile is written on creation, and later only when the user was provisioned for one of `writableOrgIds`
   * (the orgs the calling client may serve): provisioning never rewrites a settings-UI user's email or name,
   * nor those of another org's user. Nothing here raises a constraint error.
   */
  async provisionUser(
    externalId: string,
    profile: UserProfile,
    orgId: string,
    writableOrgIds: readonly string[],
    manager: EntityManager,
  ): Promise<{ user: User; profile: 'created' | 'updated' | 'kept' }> {
    const outcome = await this.users.provisionProfile(externalId, profile, orgId, writableOrgIds, manager);
    return { user: await this.users.getByExternalId(externalId, manager), profile: outcome };
  }

  /** See UsersRepository.lockForKeyChanges. */
  lockForKeyChanges(userId: string, manager: EntityManager): Promise<{ disabled: boolean }> {
    return this.users.lockForKeyChanges(userId, manager);
  }

  /**
   * Whether the user with `externalId` is disabled; false when there is none (AdminAuth's session tier, at
   * every request, so no instance holds a stale answer).
   */
  async isDisabled(externalId: string): Promise<boolean> {
    return (await this.users.findByExternalId(externalId))?.disabledAt != null;
  }

  findById(id: string, manager?: EntityManager): Promise<User | null> {
    return this.users.findById(id, manager);
  }

  /** See UsersRepository.disable. */
  disable(id: string, manager: EntityManager): Promise<User | null> {
    return this.users.disable(id, manager);
  }

  /** See UsersRepository.enable. */
  enable(id: string, manager: EntityManager): Promise<User | null> {
    return this.users.enable(id, manager);
  }
}
