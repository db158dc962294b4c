import { useMemo } from 'react';
import type { CredentialList, CredentialLiveState, UsageSummary } from '@cpa/contracts/management-views';
import { BarChart, LineChart } from '../charts';
import { formatCompact, formatMs, formatNumber } from '../format';
import { useResource } from '../hooks';
import { DataTable } from '../table';
import { Card, Empty, PageHeader, Resolved, Stat, StatusBadge } from '../ui';

const STATES: CredentialLiveState[] = ['active', 'cooling', 'needs_login', 'disabled'];
const hourLabel = (iso: string) => new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });

/** The last 24 hours, hour by hour, and every credential by state. */
export function OverviewPage() {
  // Rounded to the minute so the query (and the effect) does not change on every render.
  const range = useMemo(() => {
    const to = new Date(Math.ceil(Date.now() / 60_000) * 60_000);
    return { from: new Date(to.getTime() - 24 * 3600_000).toISOString(), to: to.toISOString(), bucket: 'hour' };
  }, []);
  const summary = useResource<UsageSummary>('/usage/summary', range, 30_000);
  const credentials = useResource<CredentialList>('/credentials', undefined, 15_000);

  return (
    <>
      <PageHeader title="Overview" subtitle="The last 24 hours, refreshed every 30 seconds." />
      <Resolved resource={summary}>
        {(data) => {
          const labels = data.series.map((b) => hourLabel(b.start));
          const p = (key: 'latency_p50_ms' | 'latency_p95_ms' | 'ttfb_p50_ms' | 'ttfb_p95_ms') =>
            data.series.map((b) => b[key]);
          const latest = [...data.series].reverse().find((b) => b.latency_p50_ms !== null);
          const totalTokens = data.totals.input_tokens + data.totals.output_tokens;
          return (
            <>
              <div className="stats">
                <Stat label="Requests" value={formatNumber(data.totals.requests)} />
                <Stat
                  label="Errors"
                  value={formatNumber(data.totals.errors)}
                  hint={
                    data.totals.requests
                      ? `${((data.totals.errors / data.totals.requests) * 100).toFixed(1)}% of requests`
                      : undefined
                  }
                />
                <Stat
                  label="Tokens"
                  value={formatCompact(totalTokens)}
                  hint={`${formatCompact(data.totals.input_tokens)} in · ${formatCompact(data.totals.output_tokens)} out`}
                />
                <Stat
                  label="Latency p50 / p95"
                  value={latest ? `${formatMs(latest.latency_p50_ms)} / ${formatMs(latest.latency_p95_ms)}` : '—'}
                  hint="latest hour with traffic"
                />
                <Stat
                  label="TTFB p50 / p95"
                  value={latest ? `${formatMs(latest.ttfb_p50_ms)} / ${formatMs(latest.ttfb_p95_ms)}` : '—'}
                  hint="streamed requests"
                />
              </div>
              {data.totals.requests === 0 ? (
                <Card>
                  <Empty title="No requests in the last 24 hours">
                    Send a request through the gateway and it shows up here.
                  </Empty>
                </Card>
              ) : (
                <div className="grid-2">
                  <Card title="Requests and errors per hour">
                    <BarChart
                      title="Requests and errors per hour"
                      labels={labels}
                      series={[
                        {
                          name: 'Succeeded',
                          color: 'var(--c-accent)',
                          values: data.series.map((b) => b.requests - b.errors),
                        },
                        { name: 'Errors', color: 'var(--c-danger)', values: data.series.map((b) => b.errors) },
                      ]}
                    />
                  </Card>
                  <Card title="Tokens per hour">
                    <BarChart
                      title="Tokens per hour"
                      labels={labels}
                      series={[
                        { name: 'Input', color: 'var(--c-accent)', values: data.series.map((b) => b.input_tokens) },
                        { name: 'Output', color: 'var(--c-violet)', values: data.series.map((b) => b.output_tokens) },
                      ]}
                    />
                  </Card>
                  <Card title="Latency percentiles">
                    <LineChart
                      title="Latency percentiles"
                      labels={labels}
                      format={formatMs}
                      series={[
                        { name: 'p50', color: 'var(--c-accent)', values: p('latency_p50_ms') },
                        { name: 'p95', color: 'var(--c-warn)', values: p('latency_p95_ms') },
                      ]}
                    />
                  </Card>
                  <Card title="Time to first byte percentiles">
                    <LineChart
                      title="Time to first byte percentiles"
                      emptyText="No streamed requests in this window"
                      labels={labels}
                      format={formatMs}
                      series={[
                        { name: 'p50', color: 'var(--c-accent)', values: p('ttfb_p50_ms') },
                        { name: 'p95', color: 'var(--c-warn)', values: p('ttfb_p95_ms') },
                      ]}
                    />
                  </Card>
                </div>
              )}
            </>
          );
        }}
      </Resolved>
      <Card title="Credentials by state">
        <Resolved
          resource={credentials}
          isEmpty={(d) => d.credentials.length === 0}
          empty={
            <Empty title="No credentials yet">Add an API key or import a token file on the Credentials page.</Empty>
          }
        >
          {(data) => {
            const families = [...new Set(data.credentials.map((c) => c.family))].sort();
            const count = (family: string | null, state: CredentialLiveState) =>
              data.credentials.filter((c) => c.status === state && (family === null || c.family === family)).length;
            return (
              <>
                <div className="state-summary">
                  {STATES.map((state) => (
                    <div key={state} className={`state-tile state-${state}`}>
                      <span className="state-count">{count(null, state)}</span>
                      <StatusBadge status={state} />
                    </div>
                  ))}
                </div>
                <DataTable
                  compact
                  rows={families}
                  rowKey={(family) => family}
                  columns={[
                    { header: 'Family', cell: (family) => family },
                    ...STATES.map((state) => ({
                      header: <StatusBadge status={state} />,
                      numeric: true,
                      cell: (family: string) => count(family, state) || <span className="muted">0</span>,
                    })),
                  ]}
                />
              </>
            );
          }}
        </Resolved>
      </Card>
    </>
  );
}
