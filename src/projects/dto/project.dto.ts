import { ApiProperty } from '@nestjs/swagger';
import { FreeText } from 'src/validation/body.decorators';

export class CreateProjectDto {
  /**
   * Surrounding whitespace is trimmed; names are unique per user (case-sensitive).
   * @example Storefront
   */
  @FreeText({ min: 1, max: 100 })
  name: string;
}

export class ProjectDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  name: string;

  /** The project keys go to when a mint names no project. */
  isDefault: boolean;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  /** Keys in the project that are not revoked. */
  @ApiProperty({ type: 'integer' })
  apiKeyCount: number;
}

export class ProjectsResponseDto {
  /** Default project first, then oldest first. */
  @ApiProperty({ type: [ProjectDto] }) // items: see swagger-plugin.ts-jest.js
  projects: ProjectDto[];
}
