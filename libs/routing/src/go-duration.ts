/**
 * Go's time.Duration text forms. Client-visible bodies (`reset_time`) and upstream hints
 * (Google's `retryDelay`) use them, so they are reproduced digit for digit. Internally a
 * duration is a number of milliseconds; conversion to nanoseconds uses BigInt so
 * formatting is exact.
 */

export const SECOND_MS = 1_000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;

const NS_PER_MS = 1_000_000n;

/** Milliseconds (may be fractional) to whole nanoseconds, rounding to nearest. */
export function msToNs(ms: number): bigint {
  return BigInt(Math.round(ms * 1_000_000));
}

/** Go's fmtFrac: the fraction of v / 10^prec without trailing zeros, and v / 10^prec. */
function splitFraction(v: bigint, prec: number): { int: bigint; frac: string } {
  const scale = 10n ** BigInt(prec);
  const digits = (v % scale).toString().padStart(prec, '0').replace(/0+$/, '');
  return { int: v / scale, frac: digits === '' ? '' : `.${digits}` };
}

/** Exactly Go's `time.Duration(ns).String()`: "0s", "1.5s", "1m0s", "12h0m0s", "500ms", "1µs". */
export function formatGoDurationNs(ns: bigint): string {
  const neg = ns < 0n;
  let u = neg ? -ns : ns;
  let out: string;
  if (u < 1_000_000_000n) {
    if (u === 0n) return '0s';
    let prec: number;
    let unit: string;
    if (u < 1_000n) {
      prec = 0;
      unit = 'ns';
    } else if (u < 1_000_000n) {
      prec = 3;
      unit = 'µs';
    } else {
      prec = 6;
      unit = 'ms';
    }
    const { int, frac } = splitFraction(u, prec);
    out = `${int}${frac}${unit}`;
  } else {
    const { int, frac } = splitFraction(u, 9);
    u = int;
    out = `${u % 60n}${frac}s`;
    u /= 60n;
    if (u > 0n) {
      out = `${u % 60n}m${out}`;
      u /= 60n;
      if (u > 0n) out = `${u}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}

export function formatGoDuration(ms: number): string {
  return formatGoDurationNs(msToNs(ms));
}

/** Go's Duration.Round(m): to the nearest multiple of m, halfway values away from zero. */
export function roundGoDurationNs(ns: bigint, multiple: bigint): bigint {
  if (multiple <= 0n) return ns;
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  const r = abs % multiple;
  const rounded = r + r < multiple ? abs - r : abs + multiple - r;
  return neg ? -rounded : rounded;
}

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3, // U+00B5 micro sign
  μs: 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/**
 * Go's time.ParseDuration ("300ms", "1.5h", "2h45m", "-1s"), in milliseconds.
 * Returns undefined for text Go would reject.
 */
export function parseGoDuration(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let totalNs = 0;
  const part = /^(\d*)(?:\.(\d*))?([^\d.]+)/;
  while (s !== '') {
    const m = part.exec(s);
    if (!m) return undefined;
    const [whole, intDigits = '', fracDigits, unitText = ''] = m;
    if (intDigits === '' && (fracDigits === undefined || fracDigits === '')) return undefined;
    const unit = UNIT_NS[unitText];
    if (unit === undefined) return undefined;
    const value = Number(`${intDigits || '0'}.${fracDigits ?? '0'}`);
    totalNs += value * unit;
    s = s.slice(whole.length);
  }
  return (sign * totalNs) / Number(NS_PER_MS);
}
