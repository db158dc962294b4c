// Logins (PKCE and device flows) per provider family; sessions live with the caller.
export * from './antigravity.login';
export * from './claude.login';
export * from './codex.login';
export * from './gemini-cli.login';
export * from './google-login';
export * from './iflow.login';
export * from './kimi.login';
export * from './login-flow';
export * from './pkce';
export * from './registry';
