/** Small SVG charts: stacked bars per bucket and lines per series. No chart library. */
import { formatCompact } from './format';

export interface Series {
  name: string;
  color: string;
  values: (number | null)[];
}

const WIDTH = 560;
const HEIGHT = 180;
const PAD = { top: 10, right: 8, bottom: 22, left: 54 };

function niceMax(max: number): number {
  if (max <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  const step = [1, 2, 2.5, 5, 10].find((s) => s * magnitude >= max) ?? 10;
  return step * magnitude;
}

function Axes({ labels, max, format }: { labels: string[]; max: number; format: (n: number) => string }) {
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const innerW = WIDTH - PAD.left - PAD.right;
  const ticks = [0, 0.5, 1];
  const every = Math.max(1, Math.ceil(labels.length / 8));
  return (
    <g className="axes">
      {ticks.map((t) => {
        const y = PAD.top + innerH * (1 - t);
        return (
          <g key={t}>
            <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y} y2={y} className="grid" />
            <text x={PAD.left - 6} y={y + 4} textAnchor="end">
              {format(max * t)}
            </text>
          </g>
        );
      })}
      {labels.map((label, i) =>
        i % every === 0 ? (
          <text key={i} x={PAD.left + (innerW / labels.length) * (i + 0.5)} y={HEIGHT - 6} textAnchor="middle">
            {label}
          </text>
        ) : null,
      )}
    </g>
  );
}

function Legend({ series }: { series: Series[] }) {
  return (
    <div className="legend">
      {series.map((s) => (
        <span key={s.name}>
          <i style={{ background: s.color }} />
          {s.name}
        </span>
      ))}
    </div>
  );
}

export function BarChart({
  labels,
  series,
  format = formatCompact,
  title,
}: {
  labels: string[];
  series: Series[];
  format?: (n: number) => string;
  title: string;
}) {
  const totals = labels.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const slot = (WIDTH - PAD.left - PAD.right) / Math.max(labels.length, 1);
  const barW = Math.max(2, slot * 0.7);
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={title}>
        <Axes labels={labels} max={max} format={format} />
        {labels.map((label, i) => {
          let y = PAD.top + innerH;
          return (
            <g key={i}>
              <title>{`${label}: ${series.map((s) => `${s.name} ${format(s.values[i] ?? 0)}`).join(', ')}`}</title>
              {series.map((s) => {
                const h = ((s.values[i] ?? 0) / max) * innerH;
                y -= h;
                return h > 0 ? (
                  <rect
                    key={s.name}
                    x={PAD.left + slot * i + (slot - barW) / 2}
                    y={y}
                    width={barW}
                    height={h}
                    fill={s.color}
                    rx={1.5}
                  />
                ) : null;
              })}
            </g>
          );
        })}
      </svg>
      <Legend series={series} />
    </figure>
  );
}

export function LineChart({
  labels,
  series,
  format = formatCompact,
  title,
  emptyText = 'No data in this window',
}: {
  labels: string[];
  series: Series[];
  format?: (n: number) => string;
  title: string;
  emptyText?: string;
}) {
  if (series.every((s) => s.values.every((v) => v === null)))
    return <div className="chart-empty muted">{emptyText}</div>;
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values.map((v) => v ?? 0))));
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const slot = (WIDTH - PAD.left - PAD.right) / Math.max(labels.length, 1);
  const point = (value: number, i: number) =>
    [PAD.left + slot * (i + 0.5), PAD.top + innerH * (1 - value / max)] as const;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={title}>
        <Axes labels={labels} max={max} format={format} />
        {series.map((s) => {
          // A gap (null: no request in the bucket) breaks the line.
          const segments: string[][] = [[]];
          s.values.forEach((v, i) => {
            if (v === null) segments.push([]);
            else segments[segments.length - 1].push(point(v, i).join(','));
          });
          return (
            <g key={s.name}>
              {segments
                .filter((seg) => seg.length > 1)
                .map((seg, k) => (
                  <polyline key={k} points={seg.join(' ')} fill="none" stroke={s.color} strokeWidth={2} />
                ))}
              {s.values.map((v, i) =>
                v === null ? null : (
                  <circle key={i} cx={point(v, i)[0]} cy={point(v, i)[1]} r={2.5} fill={s.color}>
                    <title>{`${labels[i]}: ${s.name} ${format(v)}`}</title>
                  </circle>
                ),
              )}
            </g>
          );
        })}
      </svg>
      <Legend series={series} />
    </figure>
  );
}
