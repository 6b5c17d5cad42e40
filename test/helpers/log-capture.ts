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
