import { loadEnv } from '@cpa/config';
import type { ProviderFamily } from '@cpa/contracts';

/** Each executor process serves one provider family, chosen by PROVIDER_FAMILY. */
function family(): ProviderFamily {
  const value = loadEnv().providerFamily;
  if (!value) throw new Error('PROVIDER_FAMILY is required for an executor (claude, gemini, codex or openai-compat)');
  return value;
}

export const EXECUTOR_FAMILY: ProviderFamily = family();
