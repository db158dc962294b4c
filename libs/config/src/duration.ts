import { parseGoDuration, SECOND_MS } from '@cpa/routing';

/**
 * Durations in config.yaml follow Go's time.ParseDuration ("1h", "1m30s", "500ms"; parsed by
 * @cpa/routing's `parseGoDuration`, in milliseconds); a bare number (or numeric string) means
 * seconds, which is how CLIProxyAPI's integer fields read. Settings store seconds.
 */

/** Seconds in a non-negative duration, or undefined when the value is not one. */
export function parseDurationSeconds(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const ms = parseGoDuration(text);
  return ms === undefined || ms < 0 ? undefined : ms / SECOND_MS;
}

/** Formats whole seconds the short way ("1h", "1h30m", "45s", "0s"). */
export function formatDurationSeconds(seconds: number): string {
  if (seconds <= 0) return '0s';
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
}
