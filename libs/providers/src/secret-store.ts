import { Injectable } from '@nestjs/common';
import type { CredentialInfo } from '@cpa/catalog';
import { CredentialRepository } from '@cpa/db';
import type { CredentialSecret } from './provider-adapter';

/**
 * Decrypted secrets cached in memory by credential id and version: a rotated token bumps
 * the version, so the next request reads it once from Postgres.
 */
@Injectable()
export class SecretStore {
  private readonly cache = new Map<string, { version: number; secret: Promise<CredentialSecret> }>();

  constructor(private readonly credentials: CredentialRepository) {}

  get(credential: CredentialInfo): Promise<CredentialSecret> {
    const hit = this.cache.get(credential.id);
    if (hit && hit.version === credential.version) return hit.secret;
    const secret = this.credentials.getSecret(credential.id).then((value) => value as CredentialSecret);
    secret.catch(() => this.cache.delete(credential.id));
    this.cache.set(credential.id, { version: credential.version, secret });
    return secret;
  }

  forget(credentialId?: string): void {
    if (credentialId) this.cache.delete(credentialId);
    else this.cache.clear();
  }
}
