import { ApiProperty } from '@nestjs/swagger';
import { IsUUID } from 'class-validator';
import { MCP_SERVER_ID_MAX } from 'src/credentials/mcp-oauth-credential.entity';
import { FreeText } from 'src/validation/body.decorators';

export class AccessTokenRequestDto {
  @ApiProperty({
    format: 'uuid',
    description: 'keysmith’s id of the user (as API-key resolution returns it).',
  })
  @IsUUID()
  userId: string;

  @ApiProperty({
    description: 'The MCP server the user deposited for.',
  })
  @FreeText({ min: 1, max: MCP_SERVER_ID_MAX })
  mcpServerId: string;
}

export class AccessTokenDto {
  @ApiProperty({ description: 'The access token. Sent with `Cache-Control: no-store`; never logged.' })
  accessToken: string;

  @ApiProperty({ example: 'Bearer', description: 'As the token endpoint reported it.' })
  tokenType: string;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'When the access token expires; null when the token endpoint did not say.',
  })
  expiresAt: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The scope the token endpoint reported, else the deposited scopes, else null.',
  })
  scope: string | null;
}
