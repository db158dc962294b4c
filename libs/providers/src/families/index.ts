import type { ProviderFamily } from '@cpa/contracts';
import type { ProviderAdapter } from '../provider-adapter';
import { claudeAdapter } from './claude';
import { codexAdapter } from './codex';
import { geminiAdapter } from './gemini';
import { openAICompatAdapter } from './openai-compat';

export const PROVIDER_ADAPTERS: Record<ProviderFamily, ProviderAdapter> = {
  claude: claudeAdapter,
  gemini: geminiAdapter,
  codex: codexAdapter,
  'openai-compat': openAICompatAdapter,
};

export { claudeAdapter, codexAdapter, geminiAdapter, openAICompatAdapter };
