import { useEffect, useState } from 'react';
import { api } from '../api';
import { useAction, useResource } from '../hooks';
import { Card, ErrorBox, Loading, PageHeader } from '../ui';

type Kind = 'strategy' | 'count' | 'duration' | 'boolean' | 'text';

interface Setting {
  path: string;
  key: string;
  label: string;
  help: string;
  kind: Kind;
}

/** The scalar endpoints of the management API (GET `{key: value}`, PUT `{value}`). */
const SETTINGS: Setting[] = [
  {
    path: '/routing/strategy',
    key: 'strategy',
    label: 'Routing strategy',
    help: 'How a credential is picked among those that can serve a model.',
    kind: 'strategy',
  },
  {
    path: '/request-retry',
    key: 'request-retry',
    label: 'Request retries',
    help: 'How many times a failed request is retried on another credential.',
    kind: 'count',
  },
  {
    path: '/max-retry-credentials',
    key: 'max-retry-credentials',
    label: 'Max credentials per request',
    help: 'At most this many credentials are tried for one request (0 = no limit).',
    kind: 'count',
  },
  {
    path: '/max-retry-interval',
    key: 'max-retry-interval',
    label: 'Max wait for a cooling credential',
    help: 'Seconds a request may wait for a credential to come out of cooldown.',
    kind: 'duration',
  },
  {
    path: '/force-model-prefix',
    key: 'force-model-prefix',
    label: 'Force model prefix',
    help: 'Prefixed credentials serve only requests that name their prefix.',
    kind: 'boolean',
  },
  {
    path: '/routing/session-affinity',
    key: 'session-affinity',
    label: 'Session affinity',
    help: 'Keep a conversation on the credential that served its first turn.',
    kind: 'boolean',
  },
  {
    path: '/routing/session-affinity-ttl',
    key: 'session-affinity-ttl',
    label: 'Session affinity TTL',
    help: 'How long a session stays pinned, e.g. 30m or 1h.',
    kind: 'text',
  },
  {
    path: '/proxy-url',
    key: 'proxy-url',
    label: 'Global proxy URL',
    help: 'Upstream requests go through this proxy unless a credential has its own. Empty = direct.',
    kind: 'text',
  },
];

const STRATEGIES = ['round-robin', 'weighted-round-robin', 'fill-first'];

export function RoutingPage() {
  return (
    <>
      <PageHeader title="Routing" subtitle="Applied to every gateway and scheduler within seconds, no restart." />
      <Card>
        <div className="settings">
          {SETTINGS.map((s) => (
            <SettingRow key={s.path} setting={s} />
          ))}
        </div>
      </Card>
    </>
  );
}

function SettingRow({ setting }: { setting: Setting }) {
  const resource = useResource<Record<string, unknown>>(setting.path);
  const [value, setValue] = useState<string>('');
  const [saved, setSaved] = useState(false);
  const action = useAction();
  const current = resource.data?.[setting.key];
  useEffect(() => {
    if (current !== undefined) setValue(String(current));
  }, [current]);

  const save = async (raw: string) => {
    setSaved(false);
    const parsed: unknown =
      setting.kind === 'boolean'
        ? raw === 'true'
        : setting.kind === 'count'
          ? Number(raw)
          : setting.kind === 'duration' && /^\d+$/.test(raw)
            ? Number(raw)
            : raw;
    const ok = await action.run(() => api(setting.path, { method: 'PUT', body: { value: parsed } }));
    if (ok !== undefined) {
      setSaved(true);
      resource.reload();
    }
  };

  const dirty = current !== undefined && String(current) !== value;
  let control;
  if (resource.data === undefined)
    control = resource.error ? <ErrorBox error={resource.error} onRetry={resource.reload} /> : <Loading />;
  else if (setting.kind === 'boolean')
    control = (
      <label className="switch">
        <input
          type="checkbox"
          name={setting.key}
          checked={value === 'true'}
          disabled={action.busy}
          onChange={(e) => (setValue(String(e.target.checked)), void save(String(e.target.checked)))}
        />
        <span>{value === 'true' ? 'On' : 'Off'}</span>
      </label>
    );
  else
    control = (
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void save(value);
        }}
      >
        {setting.kind === 'strategy' ? (
          <select name={setting.key} value={value} onChange={(e) => setValue(e.target.value)}>
            {STRATEGIES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        ) : (
          <input
            name={setting.key}
            type={setting.kind === 'count' ? 'number' : 'text'}
            min={0}
            value={value}
            onChange={(e) => setValue(e.target.value)}
          />
        )}
        <button className="btn btn-primary btn-small" type="submit" disabled={!dirty || action.busy}>
          Save
        </button>
      </form>
    );
  return (
    <div className="setting" data-setting={setting.key}>
      <div>
        <div className="cell-title">{setting.label}</div>
        <div className="muted small">{setting.help}</div>
      </div>
      <div className="setting-control">
        {control}
        {saved && !dirty && <span className="ok-text small">Saved</span>}
        <ErrorBox error={action.error} />
      </div>
    </div>
  );
}
