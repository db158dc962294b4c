/**
 * What an attempt's outcome does to credential state (Go's MarkResult), and how a failure
 * is classified for failover. One table drives both.
 */
import { HOUR_MS, MINUTE_MS, SECOND_MS, parseGoDuration } from './go-duration';
import {
  emptyQuota,
  hasModelError,
  newCredentialState,
  newModelState,
  updateAggregatedAvailability,
  type CredentialState,
  type ModelState,
  type QuotaState,
  type StateError,
} from './model-state';
import { canonicalModelKey } from './model-name';

export const UNAUTHORIZED_COOLDOWN_MS = 30 * MINUTE_MS;
export const PAYMENT_REQUIRED_COOLDOWN_MS = 30 * MINUTE_MS;
export const NOT_FOUND_COOLDOWN_MS = 12 * HOUR_MS;
export const MODEL_UNSUPPORTED_COOLDOWN_MS = 12 * HOUR_MS;
export const DEFAULT_TRANSIENT_COOLDOWN_MS = MINUTE_MS;
export const QUOTA_BACKOFF_BASE_MS = SECOND_MS;
export const QUOTA_BACKOFF_MAX_MS = 30 * MINUTE_MS;

/** Go's isModelSupportErrorMessage phrases (matched case-insensitively as substrings). */
export const MODEL_UNSUPPORTED_PHRASES = [
  'model_not_supported',
  'requested model is not supported',
  'requested model is unsupported',
  'requested model is unavailable',
  'model is not supported',
  'model not supported',
  'unsupported model',
  'model unavailable',
  'not available for your plan',
  'not available for your account',
] as const;

export function isModelUnsupportedMessage(message: string): boolean {
  const lower = message.trim().toLowerCase();
  return lower !== '' && MODEL_UNSUPPORTED_PHRASES.some((p) => lower.includes(p));
}

/** Go's isModelSupportError: a 400/422 whose text says the model is not supported. */
export function isModelUnsupportedError(status: number, message: string): boolean {
  return (status === 400 || status === 422) && isModelUnsupportedMessage(message);
}

/**
 * Go's isRequestInvalidError: 400 with "invalid_request_error", or any 422, unless it is a
 * model-support error. Switching credentials cannot fix these, so they are not retried.
 */
export function isRequestInvalidError(status: number, message: string): boolean {
  if (isModelUnsupportedError(status, message)) return false;
  if (status === 400) return message.includes('invalid_request_error');
  return status === 422;
}

export type FailureKind =
  | 'request-invalid'
  | 'model-unsupported'
  | 'unauthorized'
  | 'payment-required'
  | 'not-found'
  | 'quota'
  | 'transient'
  | 'other';

export interface FailureClassification {
  kind: FailureKind;
  /** Whether another credential may be tried (false only for request-shaped errors). */
  failover: boolean;
  /**
   * How the model is cooled: a fixed duration, the quota rule (Retry-After or exponential
   * backoff, see quotaCooldown), or nothing.
   */
  cooldown: { type: 'none' } | { type: 'fixed'; ms: number } | { type: 'quota' };
  /** Reason recorded when the model is suspended (Go's suspendReason). */
  suspendReason?: 'model_not_supported' | 'unauthorized' | 'payment_required' | 'not_found' | 'quota';
}

/** Cooling settings for one credential, resolved from the global config and its override. */
export interface CoolingPolicy {
  /** disable-cooling: no backoff or transient cooldowns. */
  disableCooling: boolean;
  /** Cooldown after 408/500/502/503/504; 0 disables it. */
  transientCooldownMs: number;
}

export interface CoolingSettings {
  disableCooling?: boolean;
  /** transient-error-cooldown-seconds: 0 (or unset) means 60 s, negative disables. */
  transientErrorCooldownSeconds?: number;
}

/**
 * The router's cooling settings (the transient cooldown in ms: 0 = default, negative =
 * disabled) in Go's terms: whole seconds, -1 when disabled.
 */
export function coolingSettingsOf(settings: { disableCooling: boolean; transientCooldownMs: number }): CoolingSettings {
  const ms = settings.transientCooldownMs;
  return {
    disableCooling: settings.disableCooling,
    transientErrorCooldownSeconds: ms < 0 ? -1 : Math.round(ms / 1000),
  };
}

/** The credential's own disable-cooling wins over the global one (Go's DisableCoolingOverride). */
export function resolveCoolingPolicy(
  global: CoolingSettings,
  credential?: { disableCooling?: boolean },
): CoolingPolicy {
  const seconds = global.transientErrorCooldownSeconds ?? 0;
  return {
    disableCooling: credential?.disableCooling ?? global.disableCooling ?? false,
    transientCooldownMs: seconds < 0 ? 0 : seconds === 0 ? DEFAULT_TRANSIENT_COOLDOWN_MS : seconds * SECOND_MS,
  };
}

const DEFAULT_POLICY: CoolingPolicy = { disableCooling: false, transientCooldownMs: DEFAULT_TRANSIENT_COOLDOWN_MS };

/**
 * The MarkResult status table. `message` is the upstream error text (body); status 0 is a
 * failure without an HTTP status (network error, empty stream).
 */
export function classifyFailure(
  status: number,
  message: string,
  policy: CoolingPolicy = DEFAULT_POLICY,
): FailureClassification {
  if (isRequestInvalidError(status, message))
    return { kind: 'request-invalid', failover: false, cooldown: { type: 'none' } };
  if (isModelUnsupportedError(status, message)) {
    return {
      kind: 'model-unsupported',
      failover: true,
      cooldown: { type: 'fixed', ms: MODEL_UNSUPPORTED_COOLDOWN_MS },
      suspendReason: 'model_not_supported',
    };
  }
  switch (status) {
    case 401:
      return {
        kind: 'unauthorized',
        failover: true,
        cooldown: { type: 'fixed', ms: UNAUTHORIZED_COOLDOWN_MS },
        suspendReason: 'unauthorized',
      };
    case 402:
    case 403:
      return {
        kind: 'payment-required',
        failover: true,
        cooldown: { type: 'fixed', ms: PAYMENT_REQUIRED_COOLDOWN_MS },
        suspendReason: 'payment_required',
      };
    case 404:
      return {
        kind: 'not-found',
        failover: true,
        cooldown: { type: 'fixed', ms: NOT_FOUND_COOLDOWN_MS },
        suspendReason: 'not_found',
      };
    case 429:
      return { kind: 'quota', failover: true, cooldown: { type: 'quota' }, suspendReason: 'quota' };
    case 408:
    case 500:
    case 502:
    case 503:
    case 504: {
      const off = policy.disableCooling || policy.transientCooldownMs <= 0;
      return {
        kind: 'transient',
        failover: true,
        cooldown: off ? { type: 'none' } : { type: 'fixed', ms: policy.transientCooldownMs },
      };
    }
    default:
      return { kind: 'other', failover: true, cooldown: { type: 'none' } };
  }
}

/**
 * Go's nextQuotaCooldown: 1s << level, capped at 30 min; the level rises only below the cap.
 */
export function nextQuotaBackoff(level: number, disableCooling: boolean): { cooldownMs: number; level: number } {
  const prev = level < 0 ? 0 : level;
  if (disableCooling) return { cooldownMs: 0, level: prev };
  const cooldown = Math.max(QUOTA_BACKOFF_BASE_MS * 2 ** prev, QUOTA_BACKOFF_BASE_MS);
  if (cooldown >= QUOTA_BACKOFF_MAX_MS) return { cooldownMs: QUOTA_BACKOFF_MAX_MS, level: prev };
  return { cooldownMs: cooldown, level: prev + 1 };
}

/**
 * The quota window after a 429. A provider hint (Retry-After / retryDelay) always applies;
 * otherwise a failure that lands while the previous window is still open reuses it, so a
 * burst of concurrent failures raises the backoff level at most once per window. An open
 * window is never shortened.
 */
export function quotaCooldown(
  quota: QuotaState,
  retryAfterMs: number | undefined,
  disableCooling: boolean,
  now: number,
): QuotaState {
  let next = 0;
  let level = quota.backoffLevel;
  if (retryAfterMs !== undefined) {
    next = now + Math.max(0, retryAfterMs);
  } else if (!disableCooling) {
    if (quota.nextRecoverAt > now) {
      next = quota.nextRecoverAt;
    } else {
      const step = nextQuotaBackoff(quota.backoffLevel, false);
      next = step.cooldownMs > 0 ? now + step.cooldownMs : 0;
      level = step.level;
    }
  }
  if (next !== 0 && quota.exceeded && quota.nextRecoverAt > next) next = quota.nextRecoverAt;
  return { exceeded: true, reason: 'quota', nextRecoverAt: next, backoffLevel: level };
}

/** One finished attempt as MarkResult sees it. */
export interface AttemptOutcome {
  success: boolean;
  /** Model the attempt served; its base model keys the state. Empty: credential-wide result. */
  model?: string;
  status?: number;
  /** Upstream error text (used for the model-support and invalid-request checks). */
  message?: string;
  code?: string;
  retryAfterMs?: number;
}

export interface MarkResultDecision {
  state: CredentialState;
  /** The model whose state changed (base model), if any. */
  model?: string;
  /** Resume: success cleared the model. Suspend: the model is cooling for `suspendReason`. */
  effect: 'resume' | 'suspend' | 'none';
  suspendReason?: string;
  classification?: FailureClassification;
}

function errorOf(outcome: AttemptOutcome): StateError | undefined {
  if (outcome.message === undefined && outcome.status === undefined) return undefined;
  return {
    message: outcome.message ?? '',
    ...(outcome.status !== undefined ? { status: outcome.status } : {}),
    ...(outcome.code !== undefined ? { code: outcome.code } : {}),
  };
}

/**
 * Go's MarkResult as a pure transition. Success clears that model's state; a failure cools
 * the model per classifyFailure. Request-shaped errors (invalid request, 422) leave state
 * untouched: they say nothing about the credential.
 */
export function markResult(
  current: CredentialState | undefined,
  outcome: AttemptOutcome,
  now: number,
  policy: CoolingPolicy = DEFAULT_POLICY,
): MarkResultDecision {
  const state = current ?? newCredentialState(now);
  const model = canonicalModelKey(outcome.model ?? '');
  if (outcome.success) {
    if (model === '') return { state: clearCredentialOnSuccess(state, now), effect: 'none' };
    let next = updateAggregatedAvailability(
      { ...state, modelStates: { ...state.modelStates, [model]: newModelState(now) } },
      now,
    );
    if (!hasModelError(next, now)) next = { ...next, lastError: undefined, statusMessage: '', status: 'active' };
    return { state: { ...stripUndefined(next), updatedAt: now }, model, effect: 'resume' };
  }

  const status = outcome.status ?? 0;
  const message = outcome.message ?? '';
  const classification = classifyFailure(status, message, policy);
  if (classification.kind === 'request-invalid') return { state, effect: 'none', classification };
  if (model === '')
    return {
      state: applyCredentialFailure(state, outcome, classification, policy, now),
      effect: 'none',
      classification,
    };

  const previous = state.modelStates[model] ?? newModelState(now);
  const err = errorOf(outcome);
  const ms: ModelState = {
    ...previous,
    unavailable: true,
    status: 'error',
    updatedAt: now,
    ...(err ? { lastError: err, statusMessage: err.message } : {}),
  };
  let effect: MarkResultDecision['effect'] = 'none';
  let suspendReason: string | undefined;
  const cooldown = classification.cooldown;
  if (cooldown.type === 'fixed') {
    ms.nextRetryAfter = now + cooldown.ms;
  } else if (cooldown.type === 'quota') {
    ms.quota = quotaCooldown(previous.quota, outcome.retryAfterMs, policy.disableCooling, now);
    ms.nextRetryAfter = ms.quota.nextRecoverAt;
  } else {
    ms.nextRetryAfter = 0;
  }
  if (classification.suspendReason) {
    effect = 'suspend';
    suspendReason = classification.suspendReason;
  }
  const withModel: CredentialState = {
    ...state,
    status: 'error',
    updatedAt: now,
    modelStates: { ...state.modelStates, [model]: ms },
    ...(err ? { lastError: err, statusMessage: err.message } : {}),
  };
  return {
    state: updateAggregatedAvailability(withModel, now),
    model,
    effect,
    ...(suspendReason ? { suspendReason } : {}),
    classification,
  };
}

function stripUndefined(state: CredentialState): CredentialState {
  const copy = { ...state };
  if (copy.lastError === undefined) delete copy.lastError;
  return copy;
}

/** Go's clearAuthStateOnSuccess: a credential-wide success clears the credential's own state. */
function clearCredentialOnSuccess(state: CredentialState, now: number): CredentialState {
  const { lastError: _dropped, ...rest } = state;
  return {
    ...rest,
    unavailable: false,
    status: 'active',
    statusMessage: '',
    quota: emptyQuota(),
    nextRetryAfter: 0,
    updatedAt: now,
  };
}

const CREDENTIAL_STATUS_MESSAGES: Partial<Record<FailureKind, string>> = {
  unauthorized: 'unauthorized',
  'payment-required': 'payment_required',
  'not-found': 'not_found',
  quota: 'quota exhausted',
  transient: 'transient upstream error',
};

/** Go's applyAuthFailureState: a failure not tied to a model cools the whole credential. */
function applyCredentialFailure(
  state: CredentialState,
  outcome: AttemptOutcome,
  classification: FailureClassification,
  policy: CoolingPolicy,
  now: number,
): CredentialState {
  const err = errorOf(outcome);
  const next: CredentialState = { ...state, unavailable: true, status: 'error', updatedAt: now };
  if (err) {
    next.lastError = err;
    if (err.message !== '') next.statusMessage = err.message;
  }
  // Go's credential table ignores the model-support phrases: a 400/422 without a model is "other".
  const kind = classification.kind === 'model-unsupported' ? 'other' : classification.kind;
  const statusMessage = CREDENTIAL_STATUS_MESSAGES[kind];
  if (statusMessage) next.statusMessage = statusMessage;
  else if (next.statusMessage === '') next.statusMessage = 'request failed';
  if (kind === 'quota') {
    next.quota = quotaCooldown(state.quota, outcome.retryAfterMs, policy.disableCooling, now);
    next.nextRetryAfter = next.quota.nextRecoverAt;
  } else if (kind !== 'other' && classification.cooldown.type === 'fixed') {
    next.nextRetryAfter = now + classification.cooldown.ms;
  } else if (kind === 'transient') {
    next.nextRetryAfter = 0;
  }
  return next;
}

/**
 * Retry-After header value: delay in seconds, or an HTTP date. Returns milliseconds from
 * `now`, or undefined when absent, unparsable or not in the future.
 */
export function parseRetryAfterHeader(value: string | undefined, now: number): number | undefined {
  const raw = value?.trim() ?? '';
  if (raw === '') return undefined;
  if (/^\d+$/.test(raw)) {
    const seconds = Number(raw);
    return seconds > 0 ? seconds * SECOND_MS : undefined;
  }
  const at = Date.parse(raw);
  if (Number.isNaN(at) || at <= now) return undefined;
  return at - now;
}

const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';
const ERROR_INFO_TYPE = 'type.googleapis.com/google.rpc.ErrorInfo';

/**
 * Google's retry hint in a 429 body (Go's ParseRetryDelay): RetryInfo.retryDelay ("30s",
 * "1.5s"), else ErrorInfo metadata.quotaResetDelay, else "after 30s" / "after 1h2m3s" in
 * error.message. Milliseconds, or undefined.
 */
export function parseGoogleRetryDelay(body: string | unknown): number | undefined {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const error = asRecord(asRecord(parsed)?.['error']);
  if (!error) return undefined;
  const details = Array.isArray(error['details']) ? error['details'].map(asRecord) : [];
  for (const detail of details) {
    if (detail?.['@type'] !== RETRY_INFO_TYPE) continue;
    const delay = detail['retryDelay'];
    if (typeof delay !== 'string' || delay === '') continue;
    // Go stops at the first RetryInfo with a delay, even when it fails to parse.
    return parseGoDuration(delay);
  }
  for (const detail of details) {
    if (detail?.['@type'] !== ERROR_INFO_TYPE) continue;
    const delay = asRecord(detail['metadata'])?.['quotaResetDelay'];
    if (typeof delay !== 'string' || delay === '') continue;
    const ms = parseGoDuration(delay);
    if (ms !== undefined) return ms;
  }
  const message = typeof error['message'] === 'string' ? error['message'] : '';
  if (message !== '') {
    const seconds = /after\s+(\d+)s\.?/.exec(message);
    if (seconds?.[1]) return Number(seconds[1]) * SECOND_MS;
    const human = /after\s+((?:\d+h)?(?:\d+m)?(?:\d+s)?)\.?/.exec(message.toLowerCase());
    if (human?.[1]) {
      const ms = parseGoDuration(human[1]);
      if (ms !== undefined && ms > 0) return ms;
    }
  }
  return undefined;
}

/** The upstream's retry hint: the Retry-After header first, then Google's body fields. */
export function retryHintMs(
  headers: Record<string, string | undefined>,
  body: string,
  now: number,
): number | undefined {
  const header = Object.entries(headers).find(([k]) => k.toLowerCase() === 'retry-after')?.[1];
  return parseRetryAfterHeader(header, now) ?? parseGoogleRetryDelay(body);
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
