import { metrics } from '@cpa/runtime/metrics';
import type { RefreshOutcome } from './credential-refresh.service';

/** What started a refresh: the worker's schedule, or an executor whose token an upstream refused. */
export type RefreshTrigger = 'scheduled' | 'on_demand';

/**
 * The `outcome` label of a refresh: its status, a skip by its reason (a closed set), and a
 * permanent failure (the credential needs a new login) apart from one that will be retried.
 */
export function refreshOutcomeLabel(outcome: RefreshOutcome): string {
  switch (outcome.status) {
    case 'skipped':
      return `skipped_${outcome.reason.replace(/-/g, '_')}`;
    case 'failed':
      return outcome.permanent ? 'needs_login' : 'failed';
    default:
      return outcome.status;
  }
}

export function observeRefresh(trigger: RefreshTrigger, outcome: RefreshOutcome): void {
  metrics.refreshes.inc({ trigger, outcome: refreshOutcomeLabel(outcome) });
}
