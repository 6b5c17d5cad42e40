import { allowsInsecureHttp, insecureHttpProblem } from 'src/config/app-config';
import { defineConfig } from 'src/config/config-slice';
import { isInsecureRemoteUrl } from 'src/config/loopback';

/** The default of SECRET_SCANNING_KEYS_REFETCH_INTERVAL_SECONDS (the JWKS key set's rule and default, 0040). */
export const DEFAULT_KEYS_REFETCH_INTERVAL_SECONDS = 5;

export interface LeaksConfig {
  /**
   * SECRET_SCANNING_GITHUB_KEYS_URL: where GitHub's secret-scanning public keys are published
   * (`https://api.github.com/meta/public_keys/secret_scanning`). Unset: the scanning endpoint answers 404.
   */
  githubKeysUrl?: string;
  /**
   * SECRET_SCANNING_KEYS_REFETCH_INTERVAL_SECONDS, in ms: after a fetch spent on an unknown key identifier, or
   * a failed one, unknown identifiers wait this long (decision 0040's gate).
   */
  keysRefetchIntervalMs: number;
}

export const leaksConfig = defineConfig('leaks', (env): LeaksConfig => {
  const githubKeysUrl = env.url('SECRET_SCANNING_GITHUB_KEYS_URL');
  // Keys fetched in clear text from across a network could be swapped for an attacker's, who could then sign
  // reports that revoke anyone's keys.
  if (
    env.isProduction &&
    githubKeysUrl !== undefined &&
    isInsecureRemoteUrl(githubKeysUrl) &&
    !allowsInsecureHttp(env)
  )
    env.problem(insecureHttpProblem('SECRET_SCANNING_GITHUB_KEYS_URL'));
  const interval = env.int(
    'SECRET_SCANNING_KEYS_REFETCH_INTERVAL_SECONDS',
    DEFAULT_KEYS_REFETCH_INTERVAL_SECONDS,
    1,
    300,
  );
  return { githubKeysUrl, keysRefetchIntervalMs: interval * 1000 };
});
