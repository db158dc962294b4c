// The data helper's throwaway-database fixture: every suite gets a migrated database of its own.
export { createTestDatabase, type TestDatabase } from '../../../db/src/__fixtures__/test-database';
