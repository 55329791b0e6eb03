// tokens.ts — per-user bearer tokens: 32 random bytes shown once, only their SHA-256 kept in the database.
// Why SHA-256 and not scrypt: a 256-bit random token cannot be guessed or dictionary-attacked, so a slow KDF
// buys nothing; a fast hash lets every request find its user through the unique index on token_hash.
import { createHash, randomBytes } from 'node:crypto';

export function newToken(): string {
  return `zj_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
