export declare const DEFAULT_DATABASE_URL: string;
export declare const DEFAULT_MIGRATIONS_DIR: string;

export declare class MigrationError extends Error {}

export interface Migration {
  name: string;
  script: string;
  /** SHA-256 hex of migration.sql, as Prisma records it. */
  checksum: string;
}

export interface MigrateOptions {
  /** Default: prisma/migrations of this repository. */
  migrationsDir?: string;
  /** One line per applied migration; default console.log. */
  log?: (line: string) => void;
  warn?: (line: string) => void;
}

export declare function readMigrations(migrationsDir?: string): Promise<Migration[]>;
/** Creates the database if missing; true when this call created it. */
export declare function ensureDatabase(databaseUrl: string): Promise<boolean>;
/** Applies pending migrations; returns the names applied by this call. */
export declare function migrate(databaseUrl?: string, options?: MigrateOptions): Promise<string[]>;
