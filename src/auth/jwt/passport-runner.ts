import type { Strategy } from 'passport';
import { KeySourceUnavailableError } from 'src/auth/jwt/key-set';
import { refusalRule, type JwtRefusalRule } from 'src/auth/jwt/refusal';

interface StrategyOutcome<T> {
  user: T | null;
  /** Which rule refused the token, for a debug log line; never shown to the caller. */
  rule?: JwtRefusalRule;
}

/**
 * Runs one passport strategy instance against a request and reports the outcome, the way passport's
 * middleware does but without its global registry: several app instances in one process (the e2e suite) each
 * run their own strategy with their own configuration. Rejects with KeySourceUnavailableError when the
 * issuer's keys could not be fetched, and with the strategy's error when it errs.
 */
export function runStrategy<T>(strategy: Strategy, req: CredentialAttempt): Promise<StrategyOutcome<T>> {
  return new Promise((resolve, reject) => {
    const attempt = Object.create(strategy) as Strategy & {
      success(user: T): void;
      fail(challenge?: unknown): void;
      error(err: unknown): void;
      pass(): void;
      redirect(): void;
    };
    attempt.success = (user) => resolve({ user });
    attempt.fail = (challenge) =>
      // Not a verdict on the token: the keys to judge it could not be fetched.
      challenge instanceof KeySourceUnavailableError
        ? reject(challenge)
        : resolve({ user: null, rule: refusalRule(challenge) });
    attempt.error = (err) => reject(err instanceof Error ? err : new Error(String(err)));
    attempt.pass = () => resolve({ user: null, rule: 'other' });
    attempt.redirect = () => resolve({ user: null, rule: 'other' });
    (attempt.authenticate as unknown as (this: unknown, r: CredentialAttempt, options: object) => void).call(
      attempt,
      req,
      {},
    );
  });
}

/**
 * What the JWT strategies are run on: the credential the auth guard already read from the Authorization
 * header (`bearerCredential`). Their `jwtFromRequest` reads it from here, so the token is taken as given
 * rather than written into a header for passport-jwt to parse again.
 */
export interface CredentialAttempt {
  readonly credential: string;
}
