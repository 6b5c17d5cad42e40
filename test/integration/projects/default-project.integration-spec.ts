import { DataSource } from 'typeorm';
import { ProjectsModule } from 'src/projects/projects.module';
import { ProjectsService } from 'src/projects/projects.service';
import { startModules, type TestModules } from 'test/helpers/modules';
import { createTestDatabase, type TestDatabase } from 'test/helpers/database';
import { projects, user } from 'test/helpers/factories';
import { concurrently } from 'test/helpers/waiting';

/**
 * ProjectsService.findOrCreateDefault on a real database: every caller creates a key along with the default
 * project, in its own transaction, and racing callers for one user must converge on one default project.
 */
describe('the default project, found or created by racing transactions', () => {
  let db: TestDatabase;
  let modules: TestModules;
  let service: ProjectsService;
  let dataSource: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    modules = await startModules(db, [ProjectsModule]);
    service = modules.moduleRef.get(ProjectsService);
    dataSource = modules.moduleRef.get(DataSource);
  });

  afterAll(async () => {
    await modules?.close();
    await db?.drop();
  });

  /** `count` transactions at once, each asking for the user's default project. */
  const race = (userId: string, count: number) =>
    concurrently(count, () => dataSource.transaction((m) => service.findOrCreateDefault(userId, m)));

  const projectsOf = (userId: string) =>
    db.query<{ id: string; name: string; is_default: boolean }>(
      'SELECT id, name, is_default FROM projects WHERE user_id = $1 ORDER BY created_at, name',
      [userId],
    );

  it('creates one default project named "Default" for a user who has none, whoever wins', async () => {
    const owner = await user(modules.moduleRef, 'racing-for-default');
    const results = await race(owner.id, 12);
    expect(new Set(results.map((p) => p.id)).size).toBe(1);
    expect(results[0]).toMatchObject({ userId: owner.id, name: 'Default', isDefault: true });
    expect(await projectsOf(owner.id)).toEqual([{ id: results[0]!.id, name: 'Default', is_default: true }]);
  });

  it('promotes an existing non-default project named "Default" rather than creating another', async () => {
    const owner = await user(modules.moduleRef, 'owns-a-default-named-project');
    const [named] = await projects(modules.moduleRef, 'owns-a-default-named-project', ['Default']);
    await projects(modules.moduleRef, 'owns-a-default-named-project', ['Other']);
    expect(named).toMatchObject({ name: 'Default', isDefault: false });

    const results = await race(owner.id, 12);
    expect(results.map((p) => p.id)).toEqual(Array(12).fill(named!.id));
    expect(await projectsOf(owner.id)).toEqual([
      { id: named!.id, name: 'Default', is_default: true },
      { id: expect.any(String) as unknown, name: 'Other', is_default: false },
    ]);
  });

  it('answers the default project once it exists: later racing calls create nothing', async () => {
    const owner = await user(modules.moduleRef, 'has-a-default');
    const [first] = await race(owner.id, 1);
    const again = await race(owner.id, 5);
    expect(again.map((p) => p.id)).toEqual(Array(5).fill(first!.id));
    expect(await projectsOf(owner.id)).toHaveLength(1);
  });

  it('keeps users apart: racing users each get their own default project', async () => {
    const owners = await Promise.all(
      ['apart-a', 'apart-b', 'apart-c'].map((id) => user(modules.moduleRef, id)),
    );
    const results = await Promise.all(owners.map((o) => race(o.id, 4)));
    const ids = results.map((r) => new Set(r.map((p) => p.id)));
    expect(ids.map((s) => s.size)).toEqual([1, 1, 1]);
    expect(new Set(ids.flatMap((s) => [...s])).size).toBe(3);
    results.forEach((r, i) => expect(r[0]!.userId).toBe(owners[i]!.id));
  });
});
