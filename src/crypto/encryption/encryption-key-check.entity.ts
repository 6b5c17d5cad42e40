import { Check, Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One row per encryption key version: the key-check value of the secret that version had when an instance
 * first saw it (`keyCheckValue`, an HKDF output, never the secret or a hash of it). Every instance compares
 * its own at start, so a wrong secret under a known version refuses to start instead of writing values the
 * others cannot read (decision 0032).
 */
@Entity('encryption_key_checks')
@Check('chk_encryption_key_checks_version', `"version" >= 1`)
@Check('chk_encryption_key_checks_value', `octet_length("check_value") = 32`)
export class EncryptionKeyCheck {
  @PrimaryColumn({ type: 'integer', primaryKeyConstraintName: 'pk_encryption_key_checks' })
  version: number;

  @Column({ name: 'check_value', type: 'bytea' })
  checkValue: Buffer;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;
}
