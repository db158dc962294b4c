import { REASONING_EFFORTS, type CanonicalRequest, type ReasoningConfig, type ReasoningEffort } from './canonical';

export interface ModelSuffix {
  baseModel: string;
  /** Set when the suffix is a level: `gpt-5(high)`. */
  effort?: ReasoningEffort;
  /** Set when the suffix is a number: `gemini-2.5-pro(8192)`; -1 means dynamic. */
  budgetTokens?: number;
}

const SUFFIX = /^(.*)\(([^()]*)\)$/;

/** Splits `model(level)` / `model(budget)`; an unknown suffix leaves the name untouched. */
export function parseModelSuffix(model: string): ModelSuffix {
  const m = SUFFIX.exec(model);
  if (!m || !m[1]) return { baseModel: model };
  const value = m[2].trim().toLowerCase();
  if (/^-?\d+$/.test(value)) return { baseModel: m[1], budgetTokens: Number(value) };
  if ((REASONING_EFFORTS as readonly string[]).includes(value))
    return { baseModel: m[1], effort: value as ReasoningEffort };
  return { baseModel: model };
}

/** Budget used when a level must become tokens (Claude budget_tokens, Gemini 2.5 thinkingBudget). */
const EFFORT_BUDGET: Record<ReasoningEffort, number> = {
  none: 0,
  minimal: 512,
  low: 1024,
  medium: 8192,
  high: 24576,
  xhigh: 32768,
  auto: -1,
};

export function effortToBudget(effort: ReasoningEffort): number {
  return EFFORT_BUDGET[effort];
}

export function budgetToEffort(budget: number): ReasoningEffort {
  if (budget < 0) return 'auto';
  if (budget === 0) return 'none';
  if (budget <= 512) return 'minimal';
  if (budget <= 1024) return 'low';
  if (budget <= 8192) return 'medium';
  if (budget <= 24576) return 'high';
  return 'xhigh';
}

/** The effort a config implies, whichever of effort/budget it was given in. */
export function reasoningEffortOf(r: ReasoningConfig | undefined): ReasoningEffort | undefined {
  if (!r) return undefined;
  if (r.effort) return r.effort;
  return r.budgetTokens === undefined ? undefined : budgetToEffort(r.budgetTokens);
}

export function reasoningBudgetOf(r: ReasoningConfig | undefined): number | undefined {
  if (!r) return undefined;
  if (r.budgetTokens !== undefined) return r.budgetTokens;
  return r.effort ? effortToBudget(r.effort) : undefined;
}

/**
 * Applies the thinking suffix of the upstream model name: the suffix wins over what the
 * body asked for, and the returned request names the base model.
 */
export function applyModelSuffix(req: CanonicalRequest, model: string): CanonicalRequest {
  const s = parseModelSuffix(model);
  if (s.effort === undefined && s.budgetTokens === undefined) return req.model === model ? req : { ...req, model };
  const reasoning: ReasoningConfig = { ...req.reasoning, effort: s.effort, budgetTokens: s.budgetTokens };
  return { ...req, model: s.baseModel, reasoning };
}
