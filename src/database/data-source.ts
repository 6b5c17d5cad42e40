// The DataSource the TypeORM CLI uses (migration:generate / run / revert). Needs DATABASE_URL.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from 'src/database/data-source-options';

const url = process.env.DATABASE_URL;
if (!url)
  throw new Error(
    'DATABASE_URL must be set for the TypeORM CLI (`npm start` on the embedded database prints its DATABASE_URL).',
  );

// DATABASE_LISTEN_URL set: DATABASE_URL is a transaction-mode pooler (decision 0103), no startup parameters.
export default new DataSource(
  dataSourceOptions(url, undefined, process.env.DATABASE_LISTEN_URL !== undefined),
);
