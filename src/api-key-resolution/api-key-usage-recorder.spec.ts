import { FLUSH_DELAY_MS, LAST_USED_PRECISION_MS } from 'src/api-key-resolution/api-key-usage-recorder';
import { GRACE_UNUSED_SLACK_SECONDS } from 'src/api-keys/grace';

describe('ApiKeyUsageRecorder and the grace of rolled keys', () => {
  it("leaves lastUsedAt behind the last resolve by less than the unused grace's slack", () => {
    // An instance queues a key at most once per precision, and SQL skips a row written within it: the stored
    // time can lag by two precisions and a flush. Closer than that, a key in use could lose its grace.
    expect(GRACE_UNUSED_SLACK_SECONDS * 1000).toBeGreaterThan(2 * LAST_USED_PRECISION_MS + FLUSH_DELAY_MS);
  });
});
