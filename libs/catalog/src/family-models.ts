import type { ProviderFamily } from '@cpa/contracts';

/**
 * Models a credential of a family serves when its config names none (CLIProxyAPI's
 * static registry, trimmed to current models). openai-compat credentials serve only
 * the models their provider entry lists.
 */
export const FAMILY_DEFAULT_MODELS: Record<ProviderFamily, readonly string[]> = {
  claude: [
    'claude-opus-4-5-20251101',
    'claude-sonnet-4-5-20250929',
    'claude-haiku-4-5-20251001',
    'claude-opus-4-1-20250805',
    'claude-sonnet-4-20250514',
  ],
  gemini: ['gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-2.5-flash-lite', 'gemini-3-pro-preview'],
  codex: ['gpt-5', 'gpt-5-codex', 'gpt-5.1', 'gpt-5.1-codex', 'gpt-5.1-codex-mini'],
  'openai-compat': [],
  'gemini-cli': [
    'gemini-2.5-pro',
    'gemini-2.5-flash',
    'gemini-2.5-flash-lite',
    'gemini-3-pro-preview',
    'gemini-3-flash-preview',
  ],
  // Antigravity serves Claude models too, all through the Gemini wire format.
  antigravity: [
    'gemini-3-flash',
    'gemini-3.1-pro-low',
    'gemini-3.1-flash-lite',
    'claude-sonnet-4-6',
    'claude-opus-4-6-thinking',
    'gpt-oss-120b-medium',
  ],
  vertex: [
    'gemini-2.5-pro',
    'gemini-2.5-flash',
    'gemini-2.5-flash-lite',
    'gemini-3-pro-preview',
    'gemini-3-flash-preview',
  ],
  // Listed with CLIProxyAPI's `kimi-` prefix; the executor sends Kimi's own ids (see families/kimi.ts).
  kimi: [
    'kimi-k2',
    'kimi-k2-thinking',
    'kimi-k2.5',
    'kimi-k2.6',
    'kimi-k2.7-code',
    'kimi-k2.7-code-highspeed',
    'kimi-k3',
    'kimi-k3-256k',
  ],
  // CLIProxyAPI's iflow list as of its last version with iFlow (2026-04).
  iflow: [
    'qwen3-coder-plus',
    'qwen3-max',
    'qwen3-vl-plus',
    'qwen3-max-preview',
    'glm-4.6',
    'kimi-k2',
    'deepseek-v3.2',
    'deepseek-v3.1',
    'deepseek-r1',
    'deepseek-v3',
    'qwen3-32b',
    'qwen3-235b-a22b-thinking-2507',
    'qwen3-235b-a22b-instruct',
    'qwen3-235b',
    'iflow-rome-30ba3b',
  ],
};

/** Who a model is listed as owned by in GET /v1/models. */
export const FAMILY_OWNER: Record<ProviderFamily, string> = {
  claude: 'anthropic',
  gemini: 'google',
  codex: 'openai',
  'openai-compat': 'openai-compatible',
  'gemini-cli': 'google',
  antigravity: 'antigravity',
  vertex: 'google',
  kimi: 'moonshot',
  iflow: 'iflow',
};
