import { Injectable, type PipeTransform } from '@nestjs/common';
import { MCP_SERVER_ID_MAX } from 'src/credentials/mcp-oauth-credential.entity';
import { ApiError } from 'src/errors/api-error';

const CONTROL_CHARACTER = /\p{Cc}/u;

/** The pipe's rule for OpenAPI: 1..MCP_SERVER_ID_MAX characters, none of them C0, DEL or C1 controls. */
export const MCP_SERVER_ID_PARAM_PATTERN = `^[^\\u0000-\\u001F\\u007F-\\u009F]{1,${MCP_SERVER_ID_MAX}}$`;

/**
 * The `:mcpServerId` route parameter: what a deposit could have stored (1..255 characters, no controls).
 * Characters are counted as PostgreSQL's varchar(255) counts them, by code point: an emoji is one.
 */
@Injectable()
export class McpServerIdPipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    if (
      typeof value === 'string' &&
      value.length > 0 &&
      [...value].length <= MCP_SERVER_ID_MAX &&
      !CONTROL_CHARACTER.test(value)
    )
      return value;
    const message = `mcpServerId must be 1 to ${MCP_SERVER_ID_MAX} characters without control characters`;
    throw ApiError.validation(message, [{ field: 'mcpServerId', messages: [message] }]);
  }
}
