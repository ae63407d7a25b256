/**
 * The first frame of a connection: what the client asks for.
 *  - `call`: a VM's qrexec-client-vm (policy decides). On the main socket `source` names the
 *    calling VM (the host is trusted: it plays the management VM); on a VM's own socket the
 *    source is that VM and `source` is ignored.
 *  - `exec`: dom0's qrexec-client (`-d DOMAIN "DEFAULT:QUBESRPC SERVICE+ARG SOURCE"`): no
 *    policy, the domain must be running. Main socket only.
 */
import { z } from 'zod';
import { ParseError } from '../../protocol/errors.ts';
import { MAX_SERVICE_CALL_LENGTH, MAX_TARGET_LENGTH, MAX_VM_NAME_LENGTH } from './limits.ts';

const vmName = z
  .string()
  .min(1)
  .max(MAX_VM_NAME_LENGTH)
  .regex(/^[A-Za-z0-9_.-]+$/);
const serviceCall = z
  .string()
  .min(1)
  .max(MAX_SERVICE_CALL_LENGTH)
  .regex(/^[A-Za-z0-9_.+-]+$/);

export const helloSchema = z.discriminatedUnion('kind', [
  z
    .object({
      v: z.literal(1),
      kind: z.literal('call'),
      source: vmName.optional(),
      target: z
        .string()
        .max(MAX_TARGET_LENGTH)
        .regex(/^[A-Za-z0-9_.:@$-]*$/),
      service: serviceCall,
    })
    .strict(),
  z
    .object({
      v: z.literal(1),
      kind: z.literal('exec'),
      domain: vmName,
      source: vmName,
      service: serviceCall,
      timeoutSeconds: z.number().int().min(0).max(86400),
    })
    .strict(),
]);

export type Hello = z.infer<typeof helloSchema>;

export function parseHello(payload: Buffer): Hello {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch (error) {
    throw new ParseError('qrexec.frame.hello', `HELLO is not JSON: ${(error as Error).message}`, 0);
  }
  const parsed = helloSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ParseError(
      'qrexec.frame.hello',
      `HELLO ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
      0,
    );
  }
  return parsed.data;
}

/** `SERVICE+ARG` -> service and '+ARG' ('+' when there is no argument), as qrexec splits it. */
export function splitServiceCall(call: string): { service: string; argument: string } {
  const plus = call.indexOf('+');
  return plus < 0
    ? { service: call, argument: '+' }
    : { service: call.slice(0, plus), argument: call.slice(plus) };
}
