import type { LoggerService } from '@nestjs/common';
import { Writable } from 'node:stream';

/** A pino destination that keeps every line the app logs, so tests can read and scan them. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (error?: Error | null) => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }

  text(): string {
    return this.lines.join('\n');
  }

  /** Every secret (plaintext token, key, ...) that appears in some captured line. */
  leaked(secrets: Iterable<string>): string[] {
    const all = this.text();
    return [...secrets].filter((s) => s.length > 0 && all.includes(s));
  }
}

/**
 * Nest's logger for modules booted without the app's LoggingModule (the integration tier): keeps each call
 * as one JSON line, `{level, args}`, in a LogCapture instead of printing it.
 */
export class CapturedLogger implements LoggerService {
  constructor(readonly capture = new LogCapture()) {}

  private keep(level: string, args: unknown[]): void {
    const line = JSON.stringify({ level, args }, (_k, v: unknown) =>
      v instanceof Error ? { message: v.message } : v,
    );
    this.capture.lines.push(line);
  }

  log(...args: unknown[]): void {
    this.keep('log', args);
  }
  error(...args: unknown[]): void {
    this.keep('error', args);
  }
  warn(...args: unknown[]): void {
    this.keep('warn', args);
  }
  debug(...args: unknown[]): void {
    this.keep('debug', args);
  }
  verbose(...args: unknown[]): void {
    this.keep('verbose', args);
  }
  fatal(...args: unknown[]): void {
    this.keep('fatal', args);
  }
}
