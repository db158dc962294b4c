import { describe, expect, it } from 'vitest';
import { changedIds } from './events.controller';

describe('changedIds', () => {
  it('reads credential ids from config.changed and credential.changed payloads', () => {
    expect(changedIds({ sections: ['auth-files'], credentialIds: ['a', 'b'], at: 1 })).toEqual(['a', 'b']);
    expect(changedIds({ id: 'c' })).toEqual(['c']);
    expect(changedIds({ id: 'a', credentialIds: ['a', 'b'] })).toEqual(['a', 'b']);
  });

  it('ignores payloads without ids or of the wrong shape', () => {
    expect(changedIds({ sections: ['routing.strategy'], at: 1 })).toEqual([]);
    expect(changedIds(undefined)).toEqual([]);
    expect(changedIds({ credentialIds: 'a' })).toEqual([]);
    expect(changedIds('a')).toEqual([]);
  });
});
