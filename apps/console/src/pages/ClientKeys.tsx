import { useState } from 'react';
import { api } from '../api';
import { formatCompact, formatNumber, formatTime, fromLocalInput, relativeTime, toLocalInput } from '../format';
import { useAction, useResource } from '../hooks';
import { Card, Empty, ErrorBox, Field, Modal, PageHeader, Resolved } from '../ui';
import type { ClientKey } from '../types';

interface KeyForm {
  name: string;
  models: string;
  rpm_limit: string;
  tpm_limit: string;
  daily_token_budget: string;
  monthly_token_budget: string;
  expires_at: string;
}

const EMPTY_FORM: KeyForm = { name: '', models: '', rpm_limit: '0', tpm_limit: '0', daily_token_budget: '0', monthly_token_budget: '0', expires_at: '' };

function formOf(key: ClientKey): KeyForm {
  return {
    name: key.name,
    models: key.models.join(', '),
    rpm_limit: String(key.rpm_limit),
    tpm_limit: String(key.tpm_limit),
    daily_token_budget: String(key.daily_token_budget),
    monthly_token_budget: String(key.monthly_token_budget),
    expires_at: key.expires_at ? toLocalInput(new Date(key.expires_at)) : '',
  };
}

function bodyOf(form: KeyForm): Record<string, unknown> {
  const whole = (v: string) => Math.max(0, Math.floor(Number(v) || 0));
  return {
    name: form.name.trim(),
    models: form.models
      .split(/[\s,]+/)
      .map((m) => m.trim())
      .filter(Boolean),
    rpm_limit: whole(form.rpm_limit),
    tpm_limit: whole(form.tpm_limit),
    daily_token_budget: whole(form.daily_token_budget),
    monthly_token_budget: whole(form.monthly_token_budget),
    expires_at: fromLocalInput(form.expires_at) ?? null,
  };
}

const limit = (n: number, unit: string) =>
  n > 0 ? (
    `${formatCompact(n)} ${unit}`
  ) : (
    <span className="muted" title="unlimited">
      ∞ {unit}
    </span>
  );

export function ClientKeysPage() {
  const keys = useResource<{ 'client-keys': ClientKey[] }>('/client-keys', undefined, 15_000);
  const action = useAction();
  const [editing, setEditing] = useState<ClientKey | 'new'>();
  const [created, setCreated] = useState<{ key: string; name: string }>();

  const act = async (fn: () => Promise<unknown>) => {
    await action.run(fn);
    keys.reload();
  };

  return (
    <>
      <PageHeader
        title="Client keys"
        subtitle="Keys your clients send to the gateway, with their limits and budgets."
        actions={
          <button className="btn btn-primary" onClick={() => setEditing('new')}>
            Create key
          </button>
        }
      />
      {created && (
        <div className="secret-once" role="status">
          <div>
            <strong>New key “{created.name}”.</strong> Copy it now: it is shown only once.
          </div>
          <code data-testid="new-key-secret">{created.key}</code>
          <button className="btn btn-small" onClick={() => void navigator.clipboard?.writeText(created.key)}>
            Copy
          </button>
          <button className="btn btn-small btn-ghost" onClick={() => setCreated(undefined)}>
            Dismiss
          </button>
        </div>
      )}
      <ErrorBox error={action.error} />
      <Card title="Keys">
        <Resolved
          resource={keys}
          isEmpty={(d) => d['client-keys'].length === 0}
          empty={<Empty title="No client keys yet">Create one; clients send it as a Bearer token or x-api-key.</Empty>}
        >
          {(data) => (
            <div className="table-wrap">
              <table className="table" data-testid="client-keys-table">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Models</th>
                    <th>Limits and budgets</th>
                    <th>Expires</th>
                    <th className="num">Requests today</th>
                    <th className="num">Tokens day / month</th>
                    <th>Last used</th>
                  </tr>
                </thead>
                <tbody>
                  {data['client-keys'].map((k) => (
                    <tr key={k.id} data-key={k.name} className={k.disabled ? 'row-disabled' : ''}>
                      <td>
                        <div className="cell-title">
                          {k.name || <span className="muted">(unnamed)</span>} {k.disabled && <span className="badge badge-disabled">Disabled</span>}
                        </div>
                        <div className="muted small mono nowrap">
                          {k.key_preview} · {k.source}
                        </div>
                        <div className="inline-actions">
                          {k.source === 'management' ? (
                            <>
                              <button className="btn btn-small" onClick={() => setEditing(k)}>
                                Edit
                              </button>
                              <button className="btn btn-small" disabled={action.busy} onClick={() => act(() => api(`/client-keys/${encodeURIComponent(k.id)}`, { method: 'PATCH', body: { disabled: !k.disabled } }))}>
                                {k.disabled ? 'Enable' : 'Disable'}
                              </button>
                              <button
                                className="btn btn-small btn-danger"
                                disabled={action.busy}
                                onClick={() => window.confirm(`Delete the key “${k.name}”? Clients using it are refused at once.`) && act(() => api(`/client-keys/${encodeURIComponent(k.id)}`, { method: 'DELETE' }))}
                              >
                                Delete
                              </button>
                            </>
                          ) : (
                            <span className="muted small" title="Keys from config.yaml or the api-keys list are managed there">
                              from config
                            </span>
                          )}
                        </div>
                      </td>
                      <td className="small">{k.models.length ? k.models.join(', ') : <span className="muted">all models</span>}</td>
                      <td className="small nowrap">
                        {limit(k.rpm_limit, 'rpm')} · {limit(k.tpm_limit, 'tpm')}
                        <br />
                        {limit(k.daily_token_budget, 'tokens/day')} · {limit(k.monthly_token_budget, 'tokens/month')}
                      </td>
                      <td className="small" title={formatTime(k.expires_at)}>
                        {k.expires_at ? relativeTime(k.expires_at) : <span className="muted">never</span>}
                      </td>
                      <td className="num">{formatNumber(k.usage?.requests_today)}</td>
                      <td className="num">
                        {formatCompact(k.usage?.tokens_today)} / {formatCompact(k.usage?.tokens_month)}
                      </td>
                      <td className="small">{k.last_used_at ? relativeTime(k.last_used_at) : <span className="muted">never</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Resolved>
      </Card>
      {editing && (
        <KeyEditor
          keyToEdit={editing === 'new' ? undefined : editing}
          onClose={() => setEditing(undefined)}
          onSaved={(secret, name) => {
            setEditing(undefined);
            if (secret) setCreated({ key: secret, name });
            keys.reload();
          }}
        />
      )}
    </>
  );
}

function KeyEditor({ keyToEdit, onClose, onSaved }: { keyToEdit?: ClientKey; onClose: () => void; onSaved: (secret: string | undefined, name: string) => void }) {
  const [form, setForm] = useState<KeyForm>(keyToEdit ? formOf(keyToEdit) : EMPTY_FORM);
  const action = useAction();
  const set = (field: keyof KeyForm) => (event: { target: { value: string } }) => setForm({ ...form, [field]: event.target.value });
  const save = async () => {
    if (!form.name.trim()) return action.setError('A name is required');
    const body = bodyOf(form);
    const answer = await action.run(() =>
      api<{ key?: string; 'client-key': ClientKey }>(keyToEdit ? `/client-keys/${encodeURIComponent(keyToEdit.id)}` : '/client-keys', { method: keyToEdit ? 'PATCH' : 'POST', body }),
    );
    if (answer) onSaved(answer.key, body.name as string);
  };
  return (
    <Modal
      title={keyToEdit ? `Edit ${keyToEdit.name}` : 'Create a client key'}
      onClose={onClose}
      footer={
        <>
          <button className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className="btn btn-primary" disabled={action.busy} onClick={save}>
            {keyToEdit ? 'Save' : 'Create'}
          </button>
        </>
      }
    >
      <div className="form-grid">
        <Field label="Name">
          <input name="name" value={form.name} onChange={set('name')} autoFocus />
        </Field>
        <Field label="Allowed models" hint="Comma-separated; * wildcards; empty = every model">
          <input name="models" placeholder="gpt-4o, claude-*" value={form.models} onChange={set('models')} />
        </Field>
        <Field label="Requests per minute" hint="0 = unlimited">
          <input name="rpm_limit" type="number" min={0} value={form.rpm_limit} onChange={set('rpm_limit')} />
        </Field>
        <Field label="Tokens per minute" hint="0 = unlimited">
          <input name="tpm_limit" type="number" min={0} value={form.tpm_limit} onChange={set('tpm_limit')} />
        </Field>
        <Field label="Daily token budget" hint="0 = unlimited">
          <input name="daily_token_budget" type="number" min={0} value={form.daily_token_budget} onChange={set('daily_token_budget')} />
        </Field>
        <Field label="Monthly token budget" hint="0 = unlimited">
          <input name="monthly_token_budget" type="number" min={0} value={form.monthly_token_budget} onChange={set('monthly_token_budget')} />
        </Field>
        <Field label="Expires" hint="Empty = never">
          <input name="expires_at" type="datetime-local" value={form.expires_at} onChange={set('expires_at')} />
        </Field>
      </div>
      <ErrorBox error={action.error} />
    </Modal>
  );
}
