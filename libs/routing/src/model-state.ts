/**
 * Per-credential availability state, as plain JSON-friendly data. Times are epoch
 * milliseconds; 0 means "not set" (Go's zero time.Time). Every function here is a pure
 * transition: it never mutates its input.
 */
import { canonicalModelKey } from './model-name';

export type CredentialStatus = 'active' | 'error' | 'disabled';

export interface QuotaState {
  exceeded: boolean;
  /** "quota" when a 429 opened the window, "" otherwise. */
  reason: string;
  nextRecoverAt: number;
  /** Exponent of the next exponential backoff step (1s << level). */
  backoffLevel: number;
}

export interface StateError {
  message: string;
  status?: number;
  code?: string;
}

export interface ModelState {
  status: CredentialStatus;
  statusMessage: string;
  unavailable: boolean;
  nextRetryAfter: number;
  quota: QuotaState;
  lastError?: StateError;
  updatedAt: number;
}

/** The credential-wide state has the same fields as a model's, plus every model's own. */
export interface CredentialState extends ModelState {
  /** Aggregate: every model is cooling (or the credential itself failed without a model). */
  unavailable: boolean;
  /** Keyed by base model (thinking suffix and credential prefix removed). */
  modelStates: Record<string, ModelState>;
}

/** What blocking needs to know about a credential. */
export interface BlockableCredential {
  disabled?: boolean;
  state?: CredentialState;
}

export type BlockReason = 'none' | 'cooldown' | 'disabled' | 'other';

export interface BlockResult {
  blocked: boolean;
  /** `cooldown` is a quota (429) window; `other` any other timed block. */
  reason: BlockReason;
  /** When the block ends (0 when it does not end by itself or there is none). */
  next: number;
}

export function emptyQuota(): QuotaState {
  return { exceeded: false, reason: '', nextRecoverAt: 0, backoffLevel: 0 };
}

export function newModelState(now = 0): ModelState {
  return {
    status: 'active',
    statusMessage: '',
    unavailable: false,
    nextRetryAfter: 0,
    quota: emptyQuota(),
    updatedAt: now,
  };
}

export function newCredentialState(now = 0): CredentialState {
  return {
    status: 'active',
    statusMessage: '',
    unavailable: false,
    nextRetryAfter: 0,
    quota: emptyQuota(),
    updatedAt: now,
    modelStates: {},
  };
}

const NOT_BLOCKED: BlockResult = { blocked: false, reason: 'none', next: 0 };

/**
 * The model state that applies to a requested model: the exact key first, then the base
 * model's state, so "claude-sonnet-4-5(16384)" shares the cooldown of "claude-sonnet-4-5".
 */
export function modelStateFor(state: CredentialState | undefined, model: string): ModelState | undefined {
  if (!state || model === '') return undefined;
  const exact = state.modelStates[model];
  if (exact) return exact;
  const base = canonicalModelKey(model);
  return base !== '' && base !== model ? state.modelStates[base] : undefined;
}

/** The end of a timed block: the later of the retry time and an open quota window. */
function blockEnd(nextRetryAfter: number, quota: QuotaState, now: number): number {
  let next = nextRetryAfter;
  if (quota.nextRecoverAt !== 0 && quota.nextRecoverAt > now) next = quota.nextRecoverAt;
  return next < now ? now : next;
}

/**
 * Go's isAuthBlockedForModel. Disabled beats everything; with a model, the model's own
 * state decides (and a credential that has model states but none for this model is
 * available); without model states the credential-wide state decides. Expired cooldowns
 * recover by themselves: an unavailable state whose retry time has passed is not blocked.
 */
export function isBlockedForModel(credential: BlockableCredential, model: string, now: number): BlockResult {
  const state = credential.state;
  if (credential.disabled || state?.status === 'disabled') return { blocked: true, reason: 'disabled', next: 0 };
  if (!state) return NOT_BLOCKED;
  if (model !== '' && Object.keys(state.modelStates).length > 0) {
    const ms = modelStateFor(state, model);
    if (!ms) return NOT_BLOCKED;
    if (ms.status === 'disabled') return { blocked: true, reason: 'disabled', next: 0 };
    if (ms.unavailable && ms.nextRetryAfter !== 0 && ms.nextRetryAfter > now) {
      return {
        blocked: true,
        reason: ms.quota.exceeded ? 'cooldown' : 'other',
        next: blockEnd(ms.nextRetryAfter, ms.quota, now),
      };
    }
    return NOT_BLOCKED;
  }
  if (state.unavailable && state.nextRetryAfter > now) {
    return {
      blocked: true,
      reason: state.quota.exceeded ? 'cooldown' : 'other',
      next: blockEnd(state.nextRetryAfter, state.quota, now),
    };
  }
  return NOT_BLOCKED;
}

/**
 * Go's updateAggregatedAvailability: the credential is unavailable only when every model
 * is; its retry time is the earliest model retry; quota mirrors the model quotas (earliest
 * recovery, highest backoff level). Expired model cooldowns are cleared on the way.
 */
export function updateAggregatedAvailability(state: CredentialState, now: number): CredentialState {
  const entries = Object.entries(state.modelStates);
  if (entries.length === 0) return state;
  let allUnavailable = true;
  let earliestRetry = 0;
  let quotaExceeded = false;
  let quotaRecover = 0;
  let maxBackoffLevel = 0;
  const modelStates: Record<string, ModelState> = {};
  for (const [key, original] of entries) {
    let ms = original;
    let stateUnavailable = false;
    if (ms.status === 'disabled') {
      stateUnavailable = true;
    } else if (ms.unavailable && ms.nextRetryAfter !== 0) {
      if (ms.nextRetryAfter > now) {
        stateUnavailable = true;
        if (earliestRetry === 0 || ms.nextRetryAfter < earliestRetry) earliestRetry = ms.nextRetryAfter;
      } else {
        ms = { ...ms, unavailable: false, nextRetryAfter: 0 };
      }
    }
    if (!stateUnavailable) allUnavailable = false;
    if (ms.quota.exceeded) {
      quotaExceeded = true;
      if (quotaRecover === 0 || (ms.quota.nextRecoverAt !== 0 && ms.quota.nextRecoverAt < quotaRecover)) {
        quotaRecover = ms.quota.nextRecoverAt;
      }
      if (ms.quota.backoffLevel > maxBackoffLevel) maxBackoffLevel = ms.quota.backoffLevel;
    }
    modelStates[key] = ms;
  }
  return {
    ...state,
    modelStates,
    unavailable: allUnavailable,
    nextRetryAfter: allUnavailable ? earliestRetry : 0,
    quota: quotaExceeded
      ? { exceeded: true, reason: 'quota', nextRecoverAt: quotaRecover, backoffLevel: maxBackoffLevel }
      : emptyQuota(),
  };
}

/** Go's hasModelError: some model still carries an error or an open cooldown. */
export function hasModelError(state: CredentialState, now: number): boolean {
  return Object.values(state.modelStates).some(
    (ms) =>
      ms.lastError !== undefined ||
      (ms.status === 'error' && ms.unavailable && (ms.nextRetryAfter === 0 || ms.nextRetryAfter > now)),
  );
}

/** JSON of a state without its timestamps (`updatedAt`). */
function fingerprint(state: CredentialState): string {
  return JSON.stringify(state, (key, value: unknown) => (key === 'updatedAt' ? undefined : value));
}

/**
 * Whether a transition changed anything a pick looks at: one that only moves `updatedAt`
 * is no change (and is not written). A credential without state counts as a new one.
 */
export function isStateChange(current: CredentialState | undefined, next: CredentialState): boolean {
  return fingerprint(next) !== fingerprint(current ?? newCredentialState());
}

/**
 * Clears every cooldown of a credential (POST /v0/management/reset-quota): the credential
 * and all its models become available, backoff levels restart.
 */
export function resetCooldowns(state: CredentialState, now: number): CredentialState {
  const modelStates: Record<string, ModelState> = {};
  for (const [key, ms] of Object.entries(state.modelStates)) {
    modelStates[key] = { ...ms, unavailable: false, nextRetryAfter: 0, quota: emptyQuota(), updatedAt: now };
  }
  return { ...state, unavailable: false, nextRetryAfter: 0, quota: emptyQuota(), modelStates, updatedAt: now };
}
