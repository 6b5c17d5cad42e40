import { ApiProperty } from '@nestjs/swagger';
import { FreeText } from 'src/validation/body.decorators';

export class CreateProjectDto {
  @ApiProperty({
    minLength: 1,
    maxLength: 100,
    example: 'Storefront',
    description: 'Surrounding whitespace is trimmed; names are unique per user (case-sensitive).',
  })
  @FreeText({ min: 1, max: 100 })
  name: string;
}

export class ProjectDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  name: string;

  @ApiProperty({ description: 'The project keys go to when a mint names no project.' })
  isDefault: boolean;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ description: 'Keys in the project that are not revoked.' })
  apiKeyCount: number;
}

export class ProjectsResponseDto {
  @ApiProperty({ type: [ProjectDto], description: 'Default project first, then oldest first.' })
  projects: ProjectDto[];
}
