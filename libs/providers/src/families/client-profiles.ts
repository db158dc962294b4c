/**
 * The client identities subscription (OAuth) upstreams expect, in one place: these versions move
 * with every Claude Code / Codex CLI release. Values are CLIProxyAPI's (router-for-me/CLIProxyAPI,
 * internal/runtime/executor: claude_executor_request.go, helps/claude_device_profile.go,
 * claude_executor_cloaking.go, codex_executor_request.go) as of its 2026-08 HEAD.
 */

/** Claude Code 2.1.220 on @anthropic-ai/sdk 0.94.0 (the baseline CLIProxyAPI presents). */
export const CLAUDE_CODE = {
  version: '2.1.220',
  userAgent: 'claude-cli/2.1.220 (external, cli)',
  anthropicVersion: '2023-06-01',
  /** The X-Stainless-* set Claude Code's SDK sends (OS/Arch pinned like CLIProxyAPI's default profile). */
  stainless: {
    'x-stainless-retry-count': '0',
    'x-stainless-runtime': 'node',
    'x-stainless-lang': 'js',
    'x-stainless-runtime-version': 'v26.3.0',
    'x-stainless-package-version': '0.94.0',
    'x-stainless-os': 'MacOS',
    'x-stainless-arch': 'arm64',
  },
  /** Sent on /v1/messages only: Claude Code omits it on count_tokens. */
  stainlessTimeout: '600',
  /** The agent block every Claude Code system prompt starts with (after the billing block). */
  identity: "You are Claude Code, Anthropic's official CLI for Claude.",
  billingHeaderPrefix: 'x-anthropic-billing-header:',
  /** Salt of the 3-character build fingerprint in the billing block's cc_version. */
  fingerprintSalt: '59cf53e54c78',
} as const;

export const CLAUDE_BETAS = {
  claudeCode: 'claude-code-20250219',
  oauth: 'oauth-2025-04-20',
  interleavedThinking: 'interleaved-thinking-2025-05-14',
} as const;

/**
 * Anthropic-Beta when the client sent none: Claude Code's constant /v1/messages profile for an
 * OAuth account, without the flags that depend on the body (tools, speed, 1m context, thinking
 * display) and without redact-thinking, which would empty the thinking text non-Claude-Code
 * clients asked for.
 */
export const CLAUDE_DEFAULT_BETAS = [
  CLAUDE_BETAS.claudeCode,
  CLAUDE_BETAS.oauth,
  CLAUDE_BETAS.interleavedThinking,
  'thinking-token-count-2026-05-13',
  'context-management-2025-06-27',
  'prompt-caching-scope-2026-01-05',
  'effort-2025-11-24',
  'fallback-credit-2026-06-01',
  'extended-cache-ttl-2025-04-11',
] as const;

/** Claude Code's fixed count_tokens profile (with the OAuth flag in second place). */
export const CLAUDE_COUNT_TOKENS_BETAS = [
  CLAUDE_BETAS.claudeCode,
  CLAUDE_BETAS.oauth,
  CLAUDE_BETAS.interleavedThinking,
  'context-management-2025-06-27',
  'token-counting-2024-11-01',
] as const;

/** Anthropic's limit on cache_control breakpoints per request. */
export const CLAUDE_MAX_CACHE_CONTROLS = 4;

/** Codex CLI (codex-tui 0.146.0), as CLIProxyAPI presents it to the ChatGPT backend. */
export const CODEX_CLI = {
  userAgent: 'codex-tui/0.146.0 (Mac OS 26.5.0; arm64) iTerm.app/3.6.10 (codex-tui; 0.146.0)',
  originator: 'codex-tui',
} as const;

export const DEFAULT_CLAUDE_BASE_URL = 'https://api.anthropic.com';
export const DEFAULT_CODEX_CHATGPT_BASE_URL = 'https://chatgpt.com/backend-api/codex';

/**
 * Kimi CLI 1.10.6, the identity CLIProxyAPI presented to Kimi Code until 2026-07
 * (internal/runtime/executor/kimi_executor.go, applyKimiHeaders; later versions send their own
 * name). The device headers describe the machine; X-Msh-Device-Id is the login's device id.
 */
export const KIMI_CLI = {
  version: '1.10.6',
  userAgent: 'KimiCLI/1.10.6',
  platform: 'kimi_cli',
} as const;

/** The iFlow CLI's User-Agent, which is also the first part of the signed payload (iflow_executor.go). */
export const IFLOW_CLI = { userAgent: 'iFlow-Cli' } as const;

export const DEFAULT_KIMI_BASE_URL = 'https://api.kimi.com/coding';
/** iFlow's OpenAI-compatible base, version path included (CLIProxyAPI's iflow DefaultAPIBaseURL). */
export const DEFAULT_IFLOW_BASE_URL = 'https://apis.iflow.cn/v1';
