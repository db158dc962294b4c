import { describe, expect, it } from 'vitest';
import { auditEntryView } from './audit-view';

const at = new Date('2026-11-30T08:00:00Z');

describe('auditEntryView', () => {
  it('splits before_<field> details into before and keeps the rest as after', () => {
    const view = auditEntryView({
      id: '7',
      at,
      actor: 'management-api',
      action: 'setting.update',
      target: 'routing-strategy',
      details: { before_value: 'round-robin', value: 'fill-first' },
    });
    expect(view).toEqual({
      id: '7',
      at: at.toISOString(),
      actor: 'management-api',
      action: 'setting.update',
      target: 'routing-strategy',
      before: { value: 'round-robin' },
      after: { value: 'fill-first' },
    });
  });

  it('has no before when none was recorded', () => {
    const view = auditEntryView({
      id: '8',
      at,
      actor: 'a',
      action: 'claude-api-key.put',
      target: 'claude-api-key',
      details: { created: 1, before_: 'kept as is' },
    });
    expect(view.before).toBeNull();
    expect(view.after).toEqual({ created: 1, before_: 'kept as is' });
  });
});
