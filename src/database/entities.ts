import { ApiKey } from 'src/api-keys/api-key.entity';
import { BillingProvider } from 'src/api-keys/billing-provider.entity';
import { Project } from 'src/api-keys/project.entity';
import { User } from 'src/api-keys/user.entity';
import { AuditEvent } from 'src/audit/audit-event.entity';
import { SigningKey } from 'src/crypto/signing-key.entity';
import { OrgToken } from 'src/org-tokens/org-token.entity';

/** Every entity, for the app's DataSource and the TypeORM CLI (migration generation and drift checks). */
export const ENTITIES = [AuditEvent, OrgToken, User, Project, BillingProvider, ApiKey, SigningKey];
