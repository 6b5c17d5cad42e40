import type { Repository, SelectQueryBuilder } from 'typeorm';
import type { AuditEvent } from 'src/audit/audit-event.entity';
import { AuditQueryService, EXPORT_BATCH_SIZE } from 'src/audit/audit-query.service';

/** A query builder whose successive `getMany` calls answer `batches` in turn (an Error rejects). */
function repositoryAnswering(batches: (AuditEvent[] | Error)[]): {
  repo: Repository<AuditEvent>;
  limits: number[];
} {
  const limits: number[] = [];
  let call = 0;
  const builder = {
    orderBy: () => builder,
    addOrderBy: () => builder,
    andWhere: () => builder,
    limit: (n: number) => {
      limits.push(n);
      return builder;
    },
    getMany: () => {
      const next = batches[call++] ?? [];
      return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
    },
  } as unknown as SelectQueryBuilder<AuditEvent>;
  return { repo: { createQueryBuilder: () => builder } as unknown as Repository<AuditEvent>, limits };
}

const event = (i: number): AuditEvent => ({
  id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  at: new Date(1_800_000_000_000 - i * 1000),
  actor: 'a',
  action: 'x',
  targetType: 't',
  targetId: null,
  ip: null,
  requestId: null,
  callerRequestId: null,
  metadata: {},
});

async function drain(stream: NodeJS.ReadableStream): Promise<{ text: string; error?: Error }> {
  let text = '';
  try {
    for await (const chunk of stream) text += String(chunk);
    return { text };
  } catch (error) {
    return { text, error: error as Error };
  }
}

describe('AuditQueryService.export', () => {
  it('reads batch after batch, never more than the limit, and ends', async () => {
    const first = Array.from({ length: EXPORT_BATCH_SIZE }, (_, i) => event(i));
    const { repo, limits } = repositoryAnswering([first, [event(EXPORT_BATCH_SIZE)]]);
    const { text, error } = await drain(new AuditQueryService(repo).export({ limit: EXPORT_BATCH_SIZE + 1 }));
    expect(error).toBeUndefined();
    expect(text.split('\n').filter(Boolean)).toHaveLength(EXPORT_BATCH_SIZE + 1);
    expect(limits).toEqual([EXPORT_BATCH_SIZE, 1]);
  });

  it('fails the stream (no clean end) when a batch fails midway', async () => {
    const first = Array.from({ length: EXPORT_BATCH_SIZE }, (_, i) => event(i));
    const { repo } = repositoryAnswering([first, new Error('connection terminated')]);
    const { text, error } = await drain(new AuditQueryService(repo).export({}));
    expect(error?.message).toBe('connection terminated');
    expect(text.split('\n').filter(Boolean)).toHaveLength(EXPORT_BATCH_SIZE);
  });
});
