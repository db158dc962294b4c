import type { Catalog } from '@cpa/catalog';
import { coolingSettingsOf, isStateChange, markResult, resolveCoolingPolicy, type AttemptOutcome } from '@cpa/routing';
import { metrics } from '@cpa/runtime/metrics';
import { startedCooldown } from './dispatch-metrics';
import type { RoutingStateStore } from './routing-state.store';

/**
 * What an attempt's outcome does to its credential's shared state: MarkResult in
 * TypeScript, committed with optimistic concurrency in one script call (with the session
 * bindings the failure removes), and counted when it starts a cooldown.
 */
export class AttemptRecorder {
  constructor(
    private readonly catalog: Catalog,
    private readonly store: RoutingStateStore,
    private readonly now: () => number,
  ) {}

  async record(credentialId: string, outcome: AttemptOutcome, removeBindings: readonly string[] = []): Promise<void> {
    // The common case, a success on a credential this replica knows to be clean (its cache
    // follows every pick's change log), needs no Redis call at all.
    if (outcome.success && removeBindings.length === 0 && this.store.isKnownClean(credentialId)) return;
    const snapshot = this.catalog.snapshot;
    const info = snapshot.byId.get(credentialId);
    const policy = resolveCoolingPolicy(
      coolingSettingsOf(snapshot.settings),
      info?.disableCooling !== undefined ? { disableCooling: info.disableCooling } : undefined,
    );
    const now = this.now();
    // The transition last computed (the update may retry it on a conflict) and the cooldown it starts.
    let cooled: string | undefined;
    const result = await this.store.update(
      credentialId,
      (current) => {
        cooled = undefined;
        // A success on a credential without state has nothing to clear.
        if (!current && outcome.success) return undefined;
        const decision = markResult(current, outcome, now, policy);
        if (!isStateChange(current, decision.state)) return undefined;
        cooled = startedCooldown(decision, now);
        return decision.state;
      },
      removeBindings,
    );
    if (cooled && result.changed) metrics.cooldowns.inc({ family: info?.provider ?? 'unknown', reason: cooled });
  }
}
