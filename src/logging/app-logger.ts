import type { LoggerService, LogLevel } from '@nestjs/common';
import type { Logger as Pino, Level } from 'pino';

const LEVELS: Record<LogLevel, Level> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

/**
 * Nest's logger, writing JSON through this app's pino logger. Nest's `Logger` passes the context (`new
 * Logger('Ctx')`) as the last argument; the pino style `logger.warn({ err }, 'message')` is kept, so
 * objects are logged as fields (censored by the redaction formatters) and strings as the message.
 */
export class AppLogger implements LoggerService {
  constructor(readonly pino: Pino) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('log', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('verbose', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: LogLevel, message: unknown, params: unknown[]): void {
    const pinoLevel = LEVELS[level];
    if (!this.pino.isLevelEnabled(pinoLevel)) return;
    const rest = [...params];
    const context =
      rest.length > 0 && typeof rest[rest.length - 1] === 'string' ? (rest.pop() as string) : undefined;
    const fields: Record<string, unknown> = context ? { context } : {};
    let text: string | undefined;
    if (message instanceof Error) fields.err = message;
    else if (typeof message === 'object' && message !== null) Object.assign(fields, message);
    else if (message !== undefined) text = typeof message === 'string' ? message : JSON.stringify(message);
    const next = rest.find((p) => p !== undefined);
    if (typeof next === 'string') {
      // Nest's `error(message, stack)`: a stack trace; otherwise the message of a pino-style call.
      if (text === undefined) text = next;
      else if (level === 'error' && next.includes('\n    at ')) fields.stack = next;
    }
    this.pino[pinoLevel](fields, text);
  }
}
