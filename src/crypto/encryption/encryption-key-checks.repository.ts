import type { DataSource } from 'typeorm';

/**
 * `encryption_key_checks`: one key-check value per encryption key version, written once. A plain class: the
 * start check and the rewrap (which boots no Nest module) both construct it on their data source.
 */
export class EncryptionKeyChecksRepository {
  constructor(private readonly dataSource: DataSource) {}

  async find(version: number): Promise<Buffer | undefined> {
    const rows = await this.dataSource.query<{ checkValue: Buffer }[]>(
      'SELECT check_value AS "checkValue" FROM encryption_key_checks WHERE version = $1',
      [version],
    );
    return rows[0]?.checkValue;
  }

  /** Records `value` unless the version already has one (another instance's, which then stands). */
  async record(version: number, value: Buffer): Promise<boolean> {
    const rows = await this.dataSource.query<{ version: number }[]>(
      `INSERT INTO encryption_key_checks (version, check_value) VALUES ($1, $2)
       ON CONFLICT (version) DO NOTHING RETURNING version`,
      [version, value],
    );
    return rows.length > 0;
  }
}
