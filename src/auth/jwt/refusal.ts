/**
 * Which rule refused a JWT, for the debug log line an operator reads when a token is refused (issue 16, item
 * 10): never shown to the caller, who gets the one 401, and never carrying the token or its claims.
 */
export type JwtRefusalRule =
  | 'no-token'
  | 'malformed'
  | 'algorithm'
  | 'bad-kid'
  | 'issuer'
  | 'audience'
  | 'unknown-kid'
  | 'signature'
  | 'expired'
  | 'not-yet-valid'
  | 'no-expiry'
  | 'lifetime'
  | 'no-subject'
  | 'not-client-credentials'
  | 'client-not-trusted'
  | 'client-credentials-token'
  | 'other';

/** A refusal with its rule, as passport-jwt's `fail()` receives it (a strategy's verdict or a key lookup's). */
export class JwtRefusal extends Error {
  constructor(readonly rule: JwtRefusalRule) {
    super(`JWT refused: ${rule}`);
    this.name = 'JwtRefusal';
  }
}

/** What a strategy's `validate` returns to refuse a token: @nestjs/passport passes it on as `fail(info)`. */
export type Refused = [false, JwtRefusal];

export const refused = (rule: JwtRefusalRule): Refused => [false, new JwtRefusal(rule)];

/** jsonwebtoken's messages (fixed texts, never the token's content), by the rule they stand for. */
const JSONWEBTOKEN_RULES: [RegExp, JwtRefusalRule][] = [
  [/^invalid signature$/, 'signature'],
  [/^jwt audience invalid/, 'audience'],
  [/^jwt issuer invalid/, 'issuer'],
  [/^(jwt malformed|invalid token|jwt signature is required|invalid (nbf|exp) value)$/, 'malformed'],
  [/^invalid algorithm$/, 'algorithm'],
];

/** The rule behind whatever passport-jwt handed `fail()`: our own refusals, jsonwebtoken's errors, or none. */
export function refusalRule(challenge: unknown): JwtRefusalRule {
  if (challenge instanceof JwtRefusal) return challenge.rule;
  if (!(challenge instanceof Error)) return 'other';
  switch (challenge.name) {
    case 'NoMatchingKeyError':
      return 'unknown-kid';
    case 'TokenExpiredError':
      return 'expired';
    case 'NotBeforeError':
      return 'not-yet-valid';
  }
  if (challenge.message === 'No auth token') return 'no-token';
  return JSONWEBTOKEN_RULES.find(([pattern]) => pattern.test(challenge.message))?.[1] ?? 'other';
}
