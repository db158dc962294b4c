import type { ProviderFamily } from '@cpa/contracts';
import type { ProviderAdapter } from '../provider-adapter';
import { claudeAdapter } from './claude';
import { codexAdapter } from './codex';
import { geminiAdapter } from './gemini';
import { antigravityAdapter } from './antigravity';
import { geminiCliAdapter } from './gemini-cli';
import { iflowAdapter } from './iflow';
import { kimiAdapter } from './kimi';
import { openAICompatAdapter } from './openai-compat';
import { vertexAdapter } from './vertex';

export const PROVIDER_ADAPTERS: Record<ProviderFamily, ProviderAdapter> = {
  claude: claudeAdapter,
  gemini: geminiAdapter,
  codex: codexAdapter,
  'openai-compat': openAICompatAdapter,
  'gemini-cli': geminiCliAdapter,
  antigravity: antigravityAdapter,
  vertex: vertexAdapter,
  kimi: kimiAdapter,
  iflow: iflowAdapter,
};

export {
  antigravityAdapter,
  claudeAdapter,
  codexAdapter,
  geminiAdapter,
  geminiCliAdapter,
  iflowAdapter,
  kimiAdapter,
  openAICompatAdapter,
  vertexAdapter,
};
export { iflowHeaders, iflowSignature, type IFlowRequestIdentity } from './iflow';
export { kimiDeviceHeaders, kimiDeviceId, kimiHeaders, kimiUpstreamModel, type KimiDevice } from './kimi';
