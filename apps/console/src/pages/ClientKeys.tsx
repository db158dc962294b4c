import { useState } from 'react';
import type { ClientKeyAnswer, ClientKeyCreated, ClientKeyList, ClientKeyView } from '@cpa/contracts/management-views';
import { api } from '../api';
import { formatCompact, formatNumber, formatTime, fromLocalInput, relativeTime, toLocalInput } from '../format';
import { useAction, useResource } from '../hooks';
import { DataTable, RowActions, type Column } from '../table';
import { Card, DialogButtons, Empty, ErrorBox, Field, Modal, PageHeader, Resolved } from '../ui';

interface KeyForm {
  name: string;
  models: string;
  rpm_limit: string;
  tpm_limit: string;
  daily_token_budget: string;
  monthly_token_budget: string;
  expires_at: string;
}

/** The editor's limit and budget inputs, in order. */
const LIMIT_FIELDS: { name: keyof KeyForm; label: string }[] = [
  { name: 'rpm_limit', label: 'Requests per minute' },
  { name: 'tpm_limit', label: 'Tokens per minute' },
  { name: 'daily_token_budget', label: 'Daily token budget' },
  { name: 'monthly_token_budget', label: 'Monthly token budget' },
];

const EMPTY_FORM: KeyForm = {
  name: '',
  models: '',
  rpm_limit: '0',
  tpm_limit: '0',
  daily_token_budget: '0',
  monthly_token_budget: '0',
  expires_at: '',
};

function formOf(key: ClientKeyView): KeyForm {
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
  const keys = useResource<ClientKeyList>('/client-keys', undefined, 15_000);
  const action = useAction();
  const [editing, setEditing] = useState<ClientKeyView | 'new'>();
  const [created, setCreated] = useState<{ key: string; name: string }>();

  const act = async (fn: () => Promise<unknown>) => {
    await action.run(fn);
    keys.reload();
  };
  const columns: Column<ClientKeyView>[] = [
    {
      header: 'Name',
      cell: (k) => (
        <>
          <div className="cell-title">
            {k.name || <span className="muted">(unnamed)</span>}{' '}
            {k.disabled && <span className="badge badge-disabled">Disabled</span>}
          </div>
          <div className="muted small mono nowrap">
            {k.key_preview} · {k.source}
          </div>
          <RowActions
            actions={
              k.source === 'management'
                ? [
                    { label: 'Edit', onClick: () => setEditing(k) },
                    {
                      label: k.disabled ? 'Enable' : 'Disable',
                      disabled: action.busy,
                      onClick: () =>
                        act(() =>
                          api(`/client-keys/${encodeURIComponent(k.id)}`, {
                            method: 'PATCH',
                            body: { disabled: !k.disabled },
                          }),
                        ),
                    },
                    {
                      label: 'Delete',
                      danger: true,
                      disabled: action.busy,
                      confirm: `Delete the key “${k.name}”? Clients using it are refused at once.`,
                      onClick: () => act(() => api(`/client-keys/${encodeURIComponent(k.id)}`, { method: 'DELETE' })),
                    },
                  ]
                : []
            }
          >
            {k.source !== 'management' && (
              <span className="muted small" title="Keys from config.yaml or the api-keys list are managed there">
                from config
              </span>
            )}
          </RowActions>
        </>
      ),
    },
    {
      header: 'Models',
      className: 'small',
      cell: (k) => (k.models.length ? k.models.join(', ') : <span className="muted">all models</span>),
    },
    {
      header: 'Limits and budgets',
      className: 'small nowrap',
      cell: (k) => (
        <>
          {limit(k.rpm_limit, 'rpm')} · {limit(k.tpm_limit, 'tpm')}
          <br />
          {limit(k.daily_token_budget, 'tokens/day')} · {limit(k.monthly_token_budget, 'tokens/month')}
        </>
      ),
    },
    {
      header: 'Expires',
      className: 'small',
      title: (k) => formatTime(k.expires_at),
      cell: (k) => (k.expires_at ? relativeTime(k.expires_at) : <span className="muted">never</span>),
    },
    { header: 'Requests today', numeric: true, cell: (k) => formatNumber(k.usage.requests_today) },
    {
      header: 'Tokens day / month',
      numeric: true,
      cell: (k) => `${formatCompact(k.usage.tokens_today)} / ${formatCompact(k.usage.tokens_month)}`,
    },
    {
      header: 'Last used',
      className: 'small',
      cell: (k) => (k.last_used_at ? relativeTime(k.last_used_at) : <span className="muted">never</span>),
    },
  ];

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
            <DataTable
              testId="client-keys-table"
              columns={columns}
              rows={data['client-keys']}
              rowKey={(k) => k.id}
              rowAttributes={(k) => ({ 'data-key': k.name, className: k.disabled ? 'row-disabled' : '' })}
            />
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

function KeyEditor({
  keyToEdit,
  onClose,
  onSaved,
}: {
  keyToEdit?: ClientKeyView;
  onClose: () => void;
  onSaved: (secret: string | undefined, name: string) => void;
}) {
  const [form, setForm] = useState<KeyForm>(keyToEdit ? formOf(keyToEdit) : EMPTY_FORM);
  const action = useAction();
  const set = (field: keyof KeyForm) => (event: { target: { value: string } }) =>
    setForm({ ...form, [field]: event.target.value });
  const save = async () => {
    if (!form.name.trim()) return action.setError('A name is required');
    const body = bodyOf(form);
    const answer = await action.run(() =>
      api<ClientKeyCreated | ClientKeyAnswer>(
        keyToEdit ? `/client-keys/${encodeURIComponent(keyToEdit.id)}` : '/client-keys',
        { method: keyToEdit ? 'PATCH' : 'POST', body },
      ),
    );
    if (answer) onSaved('key' in answer ? answer.key : undefined, body.name as string);
  };
  return (
    <Modal
      title={keyToEdit ? `Edit ${keyToEdit.name}` : 'Create a client key'}
      onClose={onClose}
      footer={
        <DialogButtons label={keyToEdit ? 'Save' : 'Create'} busy={action.busy} onSubmit={save} onCancel={onClose} />
      }
    >
      <div className="form-grid">
        <Field label="Name">
          <input name="name" value={form.name} onChange={set('name')} autoFocus />
        </Field>
        <Field label="Allowed models" hint="Comma-separated; * wildcards; empty = every model">
          <input name="models" placeholder="gpt-4o, claude-*" value={form.models} onChange={set('models')} />
        </Field>
        {LIMIT_FIELDS.map(({ name, label }) => (
          <Field key={name} label={label} hint="0 = unlimited">
            <input name={name} type="number" min={0} value={form[name]} onChange={set(name)} />
          </Field>
        ))}
        <Field label="Expires" hint="Empty = never">
          <input name="expires_at" type="datetime-local" value={form.expires_at} onChange={set('expires_at')} />
        </Field>
      </div>
      <ErrorBox error={action.error} />
    </Modal>
  );
}
