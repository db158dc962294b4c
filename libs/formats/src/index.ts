// Public API of @cpa/formats: canonical model, one codec per wire format, stream translation.
export * from './canonical';
export type {
  Codec,
  DecodeRequestHints,
  EncodeRequestOptions,
  StreamDecoder,
  StreamEncoder,
  StreamEncoderOptions,
} from './codec';
export { mergeUsage } from './codec';
export { codecFor } from './registry';
export {
  aggregateStream,
  createStreamAggregator,
  createStreamTranslator,
  createStreamUsageTap,
  responseEvents,
  ResponseAccumulator,
  StreamAggregator,
  streamFromResponse,
  StreamTranslator,
  StreamUsageTap,
  UpstreamStreamError,
  type StreamChunk,
  type StreamTranslatorOptions,
} from './stream';
export {
  encodeErrorBody,
  encodeStreamErrorEvent,
  inspectRequest,
  parseGeminiPath,
  translateErrorBody,
  usageFromResponse,
  type GeminiPath,
  type RequestHints,
  type RequestInfo,
} from './inspect';
export {
  applyModelSuffix,
  budgetToEffort,
  effortToBudget,
  parseModelSuffix,
  reasoningBudgetOf,
  reasoningEffortOf,
  type ModelSuffix,
} from './thinking';
export { cleanSchemaForGemini, geminiSchemaToJsonSchema } from './schema';
export {
  AutoFramer,
  FramingError,
  JsonArrayFramer,
  MAX_EVENT_CHARS,
  SseFramer,
  type Frame,
  type Framer,
} from './framing';
export { SKIP_THOUGHT_SIGNATURE } from './codecs/gemini';
export { decodeAnyError } from './error-envelopes';
export {
  JsonScanError,
  layoutOf,
  ROUTED_MEMBERS,
  scanFromLayout,
  readJsonBoolean,
  readJsonString,
  replaceTopLevelMembers,
  scanTopLevelMembers,
  type TopLevelMembers,
  type ValueSpan,
} from './json-members';
