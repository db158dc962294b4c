/** One observation to add to the daily counters; omitted counters add 0 (requests add 1). */
export interface UsageIncrement {
  /** Day (UTC) as `YYYY-MM-DD` or a Date; default today. */
  day?: string | Date;
  credentialId: string;
  /** Empty when the request had no client key (or it is unknown). */
  clientKeyId?: string;
  model: string;
  requests?: number;
  failures?: number;
  inputTokens?: number;
  outputTokens?: number;
  cachedTokens?: number;
  reasoningTokens?: number;
}

export function utcDay(value: string | Date = new Date()): string {
  if (typeof value === 'string') {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(value))
      throw new TypeError(`invalid day ${JSON.stringify(value)}, expected YYYY-MM-DD`);
    return value;
  }
  return value.toISOString().slice(0, 10);
}
