import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { provideConfig } from 'src/config/config-slice';
import { AccessTokensController } from 'src/credentials/access-tokens.controller';
import { AccessTokensService } from 'src/credentials/access-tokens.service';
import { CredentialHealth } from 'src/credentials/credential-health';
import { credentialsConfig } from 'src/credentials/credentials.config';
import { CredentialsOffboarding } from 'src/credentials/credentials-offboarding';
import { UpstreamRevocation } from 'src/credentials/upstream-revocation';
import { McpOAuthCredential } from 'src/credentials/mcp-oauth-credential.entity';
import { McpOAuthCredentialsController } from 'src/credentials/mcp-oauth-credentials.controller';
import { McpOAuthCredentialsRepository } from 'src/credentials/mcp-oauth-credentials.repository';
import { McpOAuthCredentialsService } from 'src/credentials/mcp-oauth-credentials.service';
import { TokenEndpointClient } from 'src/credentials/token-endpoint-client';
import { TokenEndpointPolicy } from 'src/credentials/token-endpoint-policy';
import { EventsOutboxModule } from 'src/events/events-outbox.module';
import { UsersModule } from 'src/users/users.module';

/**
 * Users' OAuth credentials for MCP servers, kept encrypted: deposited, listed and deleted by their user
 * (session JWT), and turned into fresh access tokens for internal runtimes (M2M) without the refresh token
 * ever leaving. Refreshes call user-chosen URLs, under the outbound policy of TokenEndpointPolicy.
 */
@Module({
  imports: [TypeOrmModule.forFeature([McpOAuthCredential]), UsersModule, EventsOutboxModule],
  controllers: [McpOAuthCredentialsController, AccessTokensController],
  providers: [
    provideConfig(credentialsConfig),
    McpOAuthCredentialsRepository,
    McpOAuthCredentialsService,
    AccessTokensService,
    TokenEndpointPolicy,
    TokenEndpointClient,
    UpstreamRevocation,
    CredentialsOffboarding,
    CredentialHealth,
  ],
  exports: [CredentialsOffboarding],
})
export class CredentialsModule {}
