import { Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import { isUUID } from 'class-validator';
import { ApiError } from 'src/errors/api-error';

/** A route parameter that must be a UUID; otherwise 400 `validation_failed` naming the parameter. */
@Injectable()
export class ParseUuidPipe implements PipeTransform<unknown, string> {
  transform(value: unknown, metadata: ArgumentMetadata): string {
    if (typeof value === 'string' && isUUID(value)) return value;
    const field = metadata.data ?? 'id';
    const message = `${field} must be a UUID`;
    throw ApiError.validation(message, [{ field, messages: [message] }]);
  }
}
