import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The events retention sweep (decision 0115) walks old events in (occurred_at, id) order: this index lets
 * each batch start where the last one ended instead of reading the table.
 */
export class AddEventsOccurredAtIndex1797020000000 implements MigrationInterface {
  name = 'AddEventsOccurredAtIndex1797020000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "idx_events_occurred_at" ON "events" ("occurred_at", "id")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_events_occurred_at"`);
  }
}
