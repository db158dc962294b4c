import { Injectable } from '@nestjs/common';
import { Catalog, type CredentialInfo } from '@cpa/catalog';
import { SecretBox } from '@cpa/db/light';
import type { CredentialSecret } from './provider-adapter';

/**
 * Opens credentials' secrets from the catalog snapshot (published still encrypted; only
 * CPA_SECRET_KEY is needed, never Postgres) and caches them in memory by credential id
 * and version: a rotated token comes with a new version in the next snapshot.
 */
@Injectable()
export class SecretStore {
  private readonly cache = new Map<string, { version: number; secret: Promise<CredentialSecret> }>();

  constructor(
    private readonly catalog: Catalog,
    private readonly box: SecretBox,
  ) {}

  get(credential: CredentialInfo): Promise<CredentialSecret> {
    const hit = this.cache.get(credential.id);
    if (hit && hit.version === credential.version) return hit.secret;
    const stored = this.catalog.snapshot.secrets.get(credential.id);
    if (!stored) return Promise.reject(new Error(`credential ${credential.id} has no secret in the catalog snapshot`));
    let secret: Promise<CredentialSecret>;
    try {
      const value = this.box.decryptJson<unknown>(stored.secretEnc);
      if (!value || typeof value !== 'object' || Array.isArray(value))
        throw new Error(`credential ${credential.id}: its secret is not a JSON object`);
      secret = Promise.resolve(value as CredentialSecret);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    // Cached under the version it was published with: a credential object of an older
    // snapshot still held by a request in flight reads again rather than pinning the old one.
    this.cache.set(credential.id, { version: stored.version, secret });
    return secret;
  }

  forget(credentialId?: string): void {
    if (credentialId) this.cache.delete(credentialId);
    else this.cache.clear();
  }
}
