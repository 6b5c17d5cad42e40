import { ApiError } from 'src/errors/api-error';
import { assertUnreachable } from 'src/errors/assert-unreachable';

export enum ProjectsErrorCode {
  NotFound = 'project_not_found',
  NameTaken = 'project_name_taken',
  UserDisabled = 'user_disabled',
}

/** The API error each projects failure answers with. Another user's project is "not found", never forbidden. */
export function projectsError(code: ProjectsErrorCode): ApiError {
  switch (code) {
    case ProjectsErrorCode.NotFound:
      return ApiError.notFound('Project');
    case ProjectsErrorCode.NameTaken:
      return ApiError.conflict('You already have a project with this name.');
    case ProjectsErrorCode.UserDisabled:
      return ApiError.identityNotAllowed('This user is disabled and cannot create projects.');
    default:
      return assertUnreachable(code);
  }
}
