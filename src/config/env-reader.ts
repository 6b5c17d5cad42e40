/** The process environment, or the variables a test boots the app with. */
export type Env = Record<string, string | undefined>;

export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigValidationError';
  }
}

/** Secrets shorter than this are refused where a minimum applies. */
export const MIN_SECRET_LENGTH = 32;

/**
 * Reads variables and collects what is wrong with them. Every problem names the variable and never echoes
 * its value, because many of these variables are secrets.
 */
export class EnvReader {
  readonly problems: string[] = [];
  readonly nodeEnv: string;
  readonly isProduction: boolean;

  constructor(private readonly env: Env) {
    this.nodeEnv = this.str('NODE_ENV') ?? 'development';
    this.isProduction = this.nodeEnv === 'production';
  }

  /** The names of the variables that are set (non-empty), for families such as `RATE_LIMIT_<POLICY>`. */
  names(prefix = ''): string[] {
    return Object.keys(this.env).filter((name) => name.startsWith(prefix) && this.raw(name) !== undefined);
  }

  /** Records a problem once: slices that read the same variable do not repeat it. */
  problem(message: string): void {
    if (!this.problems.includes(message)) this.problems.push(message);
  }

  /** The value as set, untrimmed; undefined when unset or empty. */
  raw(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v === '' ? undefined : v;
  }

  /** The trimmed value; undefined when unset or blank. */
  str(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.str(name);
    if (v === undefined) return fallback;
    if (/^(true|1|yes)$/i.test(v)) return true;
    if (/^(false|0|no)$/i.test(v)) return false;
    this.problem(`${name} must be true or false`);
    return fallback;
  }

  /** A whole number in [min, max], or `fallback` when unset; a problem naming the variable otherwise. */
  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.str(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      this.problem(`${name} must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  url(name: string, protocols = ['http:', 'https:']): string | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    if (!isUrl(v, protocols)) {
      this.problem(`${name} must be a URL (${protocols.join(' or ')})`);
      return undefined;
    }
    return v;
  }

  /** A comma-separated list, entries trimmed, empty ones dropped; undefined when unset. */
  list(name: string): string[] | undefined {
    return this.str(name)
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }

  /**
   * A secret, untrimmed. `enforce`: whether the minimum length applies (some secrets need it only in
   * production); `where` ends the problem's sentence.
   */
  secret(name: string, enforce: boolean, where = ' in production'): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (enforce && v.length < MIN_SECRET_LENGTH) {
      this.problem(`${name} must be at least ${MIN_SECRET_LENGTH} characters${where}`);
    }
    return v;
  }
}

export function isUrl(value: string, protocols: string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}
