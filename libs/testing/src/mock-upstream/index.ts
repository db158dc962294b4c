export { startMockUpstream } from './server';
export { upstreamError, type UpstreamError, type WireFormat } from './errors';
export { countWords, sampleFromSchema, splitText } from './conversation';
export type { MockBehavior, MockToolCall, MockUpstream, MockUpstreamOptions, RecordedRequest, ScriptedReply } from './types';
