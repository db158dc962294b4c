import { useState, type FormEvent } from 'react';
import { api, ApiError, session } from '../api';

/** Checks the secret against the management API before keeping it for this browser tab. */
export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!secret.trim()) return setError('Enter the management secret');
    setBusy(true);
    setError(undefined);
    try {
      await api('/routing/strategy', { secret: secret.trim() });
      session.signIn(secret.trim());
      onSignedIn();
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 0;
      setError(
        status === 401 || status === 403
          ? 'That secret was not accepted.'
          : err instanceof Error
            ? err.message
            : String(err),
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="signin">
      <form className="signin-card" onSubmit={submit}>
        <div className="brand brand-large">
          <span className="brand-mark">C</span>
          <div>
            <strong>CLIProxy</strong>
            <small>admin console</small>
          </div>
        </div>
        <h1>Sign in</h1>
        <p className="muted">
          Use the management secret (remote-management.secret-key). It is kept only in this tab's session storage.
        </p>
        <label className="field">
          <span className="field-label">Management secret</span>
          <input
            type="password"
            name="secret"
            autoComplete="current-password"
            autoFocus
            value={secret}
            onChange={(e) => setSecret(e.target.value)}
          />
        </label>
        {error && (
          <div className="error-box" role="alert">
            {error}
          </div>
        )}
        <button className="btn btn-primary btn-block" type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </div>
  );
}
