import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { hashApiKey } from 'src/api-keys/api-key-format';
import { ApiKeyRevocations } from 'src/api-keys/api-key-revocations';
import { ApiKeysAudit } from 'src/api-keys/api-keys.audit';
import { ApiKeysRepository, type ReportedKey } from 'src/api-keys/api-keys.repository';
import { AuditService, type AuditContext, type AuditEntry } from 'src/audit/audit.service';
import type { OutboxEvent } from 'src/events/events-outbox';
import { EventsOutbox } from 'src/events/events-outbox';
import { Actors } from 'src/auth/actors';
import { RevocationFeed } from 'src/database/revocation-feed';
import { LeaksAudit } from 'src/leaks/leaks.audit';
import { LeaksErrorCode, leaksError } from 'src/leaks/leaks.errors';
import { ScannerKeys } from 'src/leaks/scanner-keys';
import { parseReport, signatureHeaders, signatureHolds, type ReportedMatch } from 'src/leaks/scanning-report';
import { recogniseSecret, SECRET_TYPES, type RecognisedSecret } from 'src/leaks/secret-formats';
import { ORG_TOKEN_REVOCATION_CHANNEL } from 'src/org-tokens/org-token-cache';
import { OrgTokensAudit } from 'src/org-tokens/org-tokens.audit';
import { OrgTokensRepository } from 'src/org-tokens/org-tokens.repository';

/** Lookups and revocations of one report run this many secrets per statement. */
export const LOOKUP_BATCH = 1_000;
/**
 * The lookup id the public revoke looks up when the presented string is not shaped like an API key: no key
 * has it (lookup ids are 16 hex characters), so the same statement runs and matches nothing.
 */
const NO_KEY_ID = '-';

/** The feedback of one match: GitHub's format (`token_raw`, `token_type`, `label`). */
export interface MatchFeedback {
  token_raw: string;
  token_type: string;
  label: 'true_positive' | 'false_positive';
}

interface Revoked {
  apiKeyIds: string[];
  orgTokenIds: string[];
}

const chunks = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/**
 * Leak response: the secret-scanning partner endpoint and the public revoke endpoint. Both revoke through the
 * lifecycle's own statements (the tables' repositories), announce on the lifecycle's channels (so every
 * instance refuses the key at its next request) and write the lifecycle's audit rows, with the reason.
 */
@Injectable()
export class LeakedSecretsService {
  private readonly logger = new Logger('LeakedSecrets');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly apiKeys: ApiKeysRepository,
    private readonly apiKeyRevocations: ApiKeyRevocations,
    private readonly orgTokens: OrgTokensRepository,
    private readonly feed: RevocationFeed,
    private readonly audit: AuditService,
    private readonly scannerKeys: ScannerKeys,
    private readonly events: EventsOutbox,
  ) {}

  /** Whether SECRET_SCANNING_GITHUB_KEYS_URL is set (otherwise the scanning route answers 404). */
  get scanningConfigured(): boolean {
    return this.scannerKeys.configured;
  }

  /**
   * A report of GitHub's secret scanning: the signature is checked over the raw bytes first (401 when it is
   * missing, by an unknown key or over other bytes; 503 when the keys cannot be fetched), then the body is
   * parsed (400), then every keysmith secret in it is recognised offline and looked up in batches; the live
   * ones are revoked (`leaked`, the report's URL in the audit row). Answers one feedback per match, in order.
   */
  async report(
    body: Buffer,
    headers: Record<string, string | string[] | undefined>,
    request: AuditContext,
  ): Promise<MatchFeedback[]> {
    const signed = signatureHeaders(headers);
    if (!signed) throw leaksError(LeaksErrorCode.BadSignature);
    const lookup = await this.scannerKeys.lookup(signed.keyIdentifier);
    if (lookup.kind === 'unavailable')
      throw leaksError(LeaksErrorCode.KeysUnavailable, { retryAfterSeconds: lookup.retryAfterSeconds });
    if (lookup.kind === 'unknown' || !signatureHolds(body, signed.signature, lookup.key))
      throw leaksError(LeaksErrorCode.BadSignature);
    const matches = parseReport(body);
    return this.processReport(matches, { ...request, actor: Actors.secretScanner('github') });
  }

  private async processReport(matches: ReportedMatch[], ctx: AuditContext): Promise<MatchFeedback[]> {
    // Each distinct string is recognised once; the first match of it supplies the audit row's URL.
    const recognised = new Map<string, { secret: RecognisedSecret; first: ReportedMatch }>();
    for (const match of matches) {
      if (recognised.has(match.token)) continue;
      const secret = recogniseSecret(match.token);
      if (secret) recognised.set(match.token, { secret, first: match });
    }
    const keyMatches = new Map<string, ReportedMatch>();
    const tokenMatches = new Map<string, ReportedMatch>();
    const reportedKeys: ReportedKey[] = [];
    for (const { secret, first } of recognised.values()) {
      if (secret.kind === 'api_key') {
        reportedKeys.push({ keyId: secret.keyId, hash: secret.hash });
        keyMatches.set(secret.hash, first);
      } else tokenMatches.set(secret.hash, first);
    }

    const real = new Set<string>();
    let revokedCount = 0;
    const revoked = await this.dataSource.transaction(async (m) => {
      const done: Revoked = { apiKeyIds: [], orgTokenIds: [] };
      const entries: AuditEntry[] = [];
      for (const batch of chunks(reportedKeys, LOOKUP_BATCH)) {
        for (const key of await this.apiKeys.revokeReported(batch, 'leaked', m)) {
          real.add(key.hash);
          if (!key.revokedNow) continue;
          done.apiKeyIds.push(key.keyId);
          entries.push(
            revocationEntry(
              'api_key',
              key.id,
              { keyPrefix: key.keyPrefix, reason: 'leaked' },
              keyMatches.get(key.hash),
            ),
          );
        }
      }
      for (const batch of chunks([...tokenMatches.keys()], LOOKUP_BATCH)) {
        for (const token of await this.orgTokens.revokeReported(batch, 'leaked', m)) {
          real.add(token.hash);
          if (!token.revokedNow) continue;
          done.orgTokenIds.push(token.id);
          entries.push(
            revocationEntry(
              'org_token',
              token.id,
              { prefix: token.prefix, reason: 'leaked' },
              tokenMatches.get(token.hash),
            ),
          );
        }
      }
      revokedCount = entries.length;
      entries.push({
        action: LeaksAudit.ScanningReport,
        targetType: 'secret_scanning_report',
        metadata: {
          matches: matches.length,
          recognised: recognised.size,
          real: real.size,
          revoked: revokedCount,
        },
      });
      await this.announce(done, m);
      await this.audit.recordMany(ctx, entries, m);
      await this.events.emitMany(m, revocationEvents(entries));
      return done;
    });
    this.invalidateLocally(revoked);
    this.logger.log(
      { matches: matches.length, recognised: recognised.size, real: real.size, revoked: revokedCount },
      'secret scanning report handled',
    );

    return matches.map((match) => {
      const secret = recognised.get(match.token)?.secret;
      return {
        token_raw: match.token,
        token_type: match.type ?? (secret ? typeName(secret) : 'unknown'),
        label: secret && real.has(secret.hash) ? 'true_positive' : 'false_positive',
      };
    });
  }

  /**
   * The public revoke (RFC 7009 style): revokes `presented` (`reported`) when it is a live API key or org
   * token, and tells nobody whether it was. Whatever the string, the same work is done: one SHA-256, the same
   * two statements in one transaction (an API-key lookup by lookup id and hash, an org-token lookup by hash,
   * each revoking what it finds live), and one audit row written, the revocation's or an `unmatched` one
   * with the caller's IP; only a match adds the announcement to the other instances (one NOTIFY).
   */
  async publicRevoke(presented: string, ctx: AuditContext): Promise<void> {
    const hash = hashApiKey(presented);
    const secret = recogniseSecret(presented);
    const keyId = secret?.kind === 'api_key' ? secret.keyId : NO_KEY_ID;
    const revoked = await this.dataSource.transaction(async (m) => {
      const done: Revoked = { apiKeyIds: [], orgTokenIds: [] };
      const entries: AuditEntry[] = [];
      for (const key of await this.apiKeys.revokeReported([{ keyId, hash }], 'reported', m)) {
        if (!key.revokedNow) continue;
        done.apiKeyIds.push(key.keyId);
        entries.push(revocationEntry('api_key', key.id, { keyPrefix: key.keyPrefix, reason: 'reported' }));
      }
      for (const token of await this.orgTokens.revokeReported([hash], 'reported', m)) {
        if (!token.revokedNow) continue;
        done.orgTokenIds.push(token.id);
        entries.push(revocationEntry('org_token', token.id, { prefix: token.prefix, reason: 'reported' }));
      }
      if (entries.length === 0)
        entries.push({ action: LeaksAudit.PublicRevokeUnmatched, targetType: 'secret', metadata: {} });
      await this.announce(done, m);
      await this.audit.recordMany(ctx, entries, m);
      await this.events.emitMany(m, revocationEvents(entries));
      return done;
    });
    this.invalidateLocally(revoked);
  }

  /** Queues the announcements in the revoking transaction: delivered to every instance on commit. */
  private async announce(revoked: Revoked, m: EntityManager): Promise<void> {
    if (revoked.apiKeyIds.length) await this.apiKeyRevocations.notify(revoked.apiKeyIds, m);
    if (revoked.orgTokenIds.length)
      await this.feed.notify(ORG_TOKEN_REVOCATION_CHANNEL, revoked.orgTokenIds, m);
  }

  /** This instance drops what it cached at once, without waiting for its own announcement's round trip. */
  private invalidateLocally(revoked: Revoked): void {
    this.apiKeyRevocations.invalidateLocally(revoked.apiKeyIds);
    this.feed.revokedLocally(ORG_TOKEN_REVOCATION_CHANNEL, revoked.orgTokenIds);
  }
}

/**
 * The events of a report's revocations, from their audit entries: a key is `api_key.leaked` and
 * `api_key.revoked`, a token `org_token.revoked`, each with its reason (`leaked`: a scanner; `reported`: the
 * public revoke). Never where it was found (a URL may still say too much).
 */
function revocationEvents(entries: readonly AuditEntry[]): OutboxEvent[] {
  return entries.flatMap((e): OutboxEvent[] => {
    const reason = (e.metadata?.reason as string | undefined) ?? '';
    if (e.targetType === 'api_key') {
      const data = {
        keyId: e.targetId ?? null,
        keyPrefix: (e.metadata?.keyPrefix as string | undefined) ?? '',
        reason,
      };
      return [
        { type: 'api_key.leaked', data },
        { type: 'api_key.revoked', data },
      ];
    }
    if (e.targetType === 'org_token')
      return [
        {
          type: 'org_token.revoked',
          data: {
            tokenId: e.targetId ?? null,
            prefix: (e.metadata?.prefix as string | undefined) ?? '',
            reason,
          },
        },
      ];
    return [];
  });
}

function typeName(secret: RecognisedSecret): string {
  return secret.kind === 'api_key' ? SECRET_TYPES.apiKey : SECRET_TYPES.orgToken;
}

/**
 * The audit row of one revocation, with the lifecycle's action for the kind and the reason; for a scanner's
 * report, where the secret was found: the URL, the scanner's type name and source (every secret cut out of
 * them by parseReport).
 */
function revocationEntry(
  kind: 'api_key' | 'org_token',
  id: string,
  metadata: Record<string, unknown> & { reason: 'leaked' | 'reported' },
  match?: ReportedMatch,
): AuditEntry {
  const found = match
    ? {
        // Redacted already (parseReport): the token and every keysmith secret shape cut out, then cut to length.
        url: match.url,
        source: match.source,
        type: match.type,
      }
    : {};
  return {
    action: kind === 'api_key' ? ApiKeysAudit.Revoke : OrgTokensAudit.Revoke,
    targetType: kind,
    targetId: id,
    metadata: { ...metadata, ...found },
  };
}
