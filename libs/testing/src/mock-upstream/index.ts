export { startMockUpstream } from './server';
export { upstreamError, type UpstreamError, type WireFormat } from './upstream-errors';
export { CLAUDE_OAUTH_TOKEN_MARK } from './claude-oauth';
export { CHATGPT_CODEX_PATH, CHATGPT_UNSUPPORTED_FIELDS } from './codex-chatgpt';
export { countWords, sampleFromSchema, splitText } from './conversation';
export type {
  MockBehavior,
  MockToolCall,
  MockUpstream,
  MockUpstreamOptions,
  RecordedRequest,
  ScriptedReply,
} from './types';
export {
  MockGoogleTokenServer,
  type IssuedToken,
  type MockGoogleTokenOptions,
  type TestServiceAccount,
} from './google-token';
export {
  startCodeAssistMock,
  type CodeAssistClient,
  type CodeAssistMock,
  type CodeAssistMockOptions,
  type CodeAssistOnboarding,
  type CodeAssistRequest,
} from './code-assist';
export { startVertexMock, type VertexMock, type VertexMockOptions, type VertexRequest } from './vertex';
export {
  IFLOW_MOCK_MODELS,
  KIMI_MOCK_MODELS,
  startIFlowMock,
  startKimiMock,
  type ChatSubscriptionMock,
  type IFlowMockOptions,
  type KimiMockOptions,
} from './kimi-iflow';
