import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Users' OAuth credentials for MCP servers (src/credentials). One per user and server (the upsert's conflict
 * target); the refresh token, client secret and cached access token are AES-256-GCM ciphertexts (bytea) under
 * the row's `enc_key_version`. Column sizes are the deposit's validation bounds.
 */
export class AddMcpOAuthCredentials1796151607278 implements MigrationInterface {
  name = 'AddMcpOAuthCredentials1796151607278';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "mcp_oauth_credentials" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "user_id" uuid NOT NULL,
        "mcp_server_id" character varying(255) NOT NULL,
        "token_endpoint" character varying(2048) NOT NULL,
        "client_id" character varying(255),
        "auth_method" character varying(64) NOT NULL,
        "scopes" character varying(2048),
        "client_secret_expires_at" TIMESTAMP WITH TIME ZONE,
        "refresh_token_enc" bytea NOT NULL,
        "client_secret_enc" bytea,
        "access_token_enc" bytea,
        "access_token_type" character varying(64),
        "access_token_scope" text,
        "access_token_expires_at" TIMESTAMP WITH TIME ZONE,
        "enc_key_version" integer NOT NULL,
        "reauthorization_required_at" TIMESTAMP WITH TIME ZONE,
        "last_refreshed_at" TIMESTAMP WITH TIME ZONE,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "uq_mcp_oauth_credentials_user_server" UNIQUE ("user_id", "mcp_server_id"),
        CONSTRAINT "PK_8d71bec1ce7211536dc42e7383d" PRIMARY KEY ("id")
      )`,
    );
    await queryRunner.query(
      `ALTER TABLE "mcp_oauth_credentials" ADD CONSTRAINT "FK_74329bde0fc29b409702c852c02"
       FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "mcp_oauth_credentials" DROP CONSTRAINT "FK_74329bde0fc29b409702c852c02"`,
    );
    await queryRunner.query(`DROP TABLE "mcp_oauth_credentials"`);
  }
}
