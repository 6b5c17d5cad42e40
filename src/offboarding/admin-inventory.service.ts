import { Injectable } from '@nestjs/common';
import { keyViewFields } from 'src/api-keys/api-key-view';
import {
  INVENTORY_DEFAULT_LIMIT,
  type AdminApiKeyDto,
  type AdminApiKeyListDto,
  type AdminListApiKeysQueryDto,
  type AdminListUsersQueryDto,
  type AdminUserDto,
  type AdminUserListDto,
} from 'src/offboarding/dto/admin-inventory.dto';
import {
  AdminInventoryRepository,
  type InventoryKeyRow,
  type InventoryUserRow,
} from 'src/offboarding/admin-inventory.repository';
import { decodeCursor, encodeCursor, filterDigest } from 'src/offboarding/inventory-cursor';
import { iso, isoOrNull } from 'src/validation/instants';

/** The admin inventory: every key and every user, filtered, in keyset pages with opaque cursors. */
@Injectable()
export class AdminInventoryService {
  constructor(private readonly inventory: AdminInventoryRepository) {}

  async listKeys(query: AdminListApiKeysQueryDto): Promise<AdminApiKeyListDto> {
    const { limit = INVENTORY_DEFAULT_LIMIT, cursor, ...filter } = query;
    const digest = filterDigest('api-keys', filter);
    const after = cursor === undefined ? undefined : decodeCursor(cursor, digest);
    // One row more than the page: whether there is a next page, without a count.
    const rows = await this.inventory.listKeys(filter, after, limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      keys: page.map((k) => toAdminKey(k)),
      nextCursor:
        rows.length > limit && last
          ? encodeCursor({ createdAtUs: last.createdAtUs, id: last.id }, digest)
          : null,
    };
  }

  async listUsers(query: AdminListUsersQueryDto): Promise<AdminUserListDto> {
    const { limit = INVENTORY_DEFAULT_LIMIT, cursor, ...filter } = query;
    const digest = filterDigest('users', filter);
    const after = cursor === undefined ? undefined : decodeCursor(cursor, digest);
    const rows = await this.inventory.listUsers(filter, after, limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      users: page.map(toAdminUser),
      nextCursor:
        rows.length > limit && last
          ? encodeCursor({ createdAtUs: last.createdAtUs, id: last.id }, digest)
          : null,
    };
  }

  /** One user as the list shows it; undefined when there is none. */
  async findUser(id: string): Promise<AdminUserDto | undefined> {
    const row = await this.inventory.findUser(id);
    return row && toAdminUser(row);
  }
}

export function toAdminKey(k: InventoryKeyRow, now = Date.now()): AdminApiKeyDto {
  const view = keyViewFields(
    {
      ...k,
      project: { id: k.projectId, name: k.projectName },
      billingProvider:
        k.billingProviderId === null
          ? null
          : { id: k.billingProviderId, slug: k.billingProviderSlug ?? '', name: k.billingProviderName ?? '' },
    },
    now,
  );
  return { ...view, user: { id: k.userId, externalId: k.externalId, email: k.email } };
}

export function toAdminUser(u: InventoryUserRow): AdminUserDto {
  return {
    id: u.id,
    externalId: u.externalId,
    email: u.email,
    name: u.name,
    status: u.disabledAt === null ? 'ACTIVE' : 'DISABLED',
    createdAt: iso(u.createdAt),
    disabledAt: isoOrNull(u.disabledAt),
    liveKeyCount: u.liveKeyCount,
  };
}
