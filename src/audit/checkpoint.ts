/**
 * Signed checkpoints: an Ed25519 signature over canonicalJson({seq, headHash, time, keyId}).
 * A checkpoint pins the chain at `seq`: rewriting anything up to it, or truncating below it,
 * is detectable by anyone holding the public key.
 */
import { sign, verify } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../shared/index.js';
import type { SigningKey, VerifyKey } from './signing-key.js';

export const CheckpointSchema = z.strictObject({
  seq: z.number().int().positive(),
  headHash: z.string().regex(/^[0-9a-f]{64}$/),
  time: z.iso.datetime(),
  keyId: z.string().min(1),
  signature: z.string().min(1),
});
export type Checkpoint = z.infer<typeof CheckpointSchema>;
export type UnsignedCheckpoint = Omit<Checkpoint, 'signature'>;

export function signCheckpoint(key: SigningKey, at: { seq: number; headHash: string; timeMs: number }): Checkpoint {
  const unsigned: UnsignedCheckpoint = { seq: at.seq, headHash: at.headHash, time: new Date(at.timeMs).toISOString(), keyId: key.keyId };
  const signature = sign(null, Buffer.from(canonicalJson(unsigned)), key.privateKey).toString('base64');
  return { ...unsigned, signature };
}

/** True when a trusted key with the checkpoint's keyId signed exactly these fields. */
export function checkpointSignatureValid(checkpoint: Checkpoint, trustedKeys: readonly VerifyKey[]): boolean {
  const key = trustedKeys.find((k) => k.keyId === checkpoint.keyId);
  if (key === undefined) return false;
  const { signature, ...unsigned } = checkpoint;
  try {
    return verify(null, Buffer.from(canonicalJson(unsigned)), key.publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** Parses one checkpoint (from a file line or a Redis copy); null when malformed. */
export function parseCheckpoint(json: string): Checkpoint | null {
  try {
    const parsed = CheckpointSchema.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
