/**
 * Redis key layout of the routing state. Every key carries the `{rs}` hash tag: a pick
 * reads credential states, cursors and bindings in one script, and the binding index
 * script reaches binding keys it finds in a set, so all of them must share one slot.
 */
export const HASH_TAG = '{rs}';

export class RoutingKeys {
  constructor(private readonly prefix: string) {}

  private key(kind: string, name: string): string {
    return `${this.prefix}${HASH_TAG}:${kind}:${name}`;
  }

  /** Hash credential id -> CredentialState JSON. */
  get states(): string {
    return `${this.prefix}${HASH_TAG}:states`;
  }

  /** Hash credential id -> version of its state (absent: never written). */
  get versions(): string {
    return `${this.prefix}${HASH_TAG}:state-versions`;
  }

  /** Counter bumped by every state write (the change log's clock). */
  get epoch(): string {
    return `${this.prefix}${HASH_TAG}:state-epoch`;
  }

  /** Sorted set: credential id scored by the epoch of its latest state write. */
  get changed(): string {
    return `${this.prefix}${HASH_TAG}:state-changed`;
  }

  /** Oldest epoch the trimmed change log still covers. */
  get changedFloor(): string {
    return `${this.prefix}${HASH_TAG}:state-changed-floor`;
  }

  /** The state keys every pick and record script addresses, in script order. */
  get stateKeys(): string[] {
    return [this.states, this.versions, this.epoch, this.changed, this.changedFloor];
  }

  /** Round-robin cursor (integer), named by routing's `selectionStateKeys`. */
  cursor(name: string): string {
    return this.key('rr', name);
  }

  /** Alias pool rotation counter (integer), named by routing's `poolRotationKey`. */
  poolCursor(name: string): string {
    return this.key('pool', name);
  }

  /** Smooth weighted round-robin credits (WeightedState JSON). */
  weighted(name: string): string {
    return this.key('wrr', name);
  }

  /** Session binding `provider::session::baseModel` -> credential id. */
  binding(name: string): string {
    return this.key('aff', name);
  }

  /** Sorted set of the binding keys made for a credential (score: expiry at bind time). */
  bindingIndex(credentialId: string): string {
    return this.key('aff-of', credentialId);
  }
}
