import { UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import { classifyError, OverloadedError, PermanentError, RateLimitedError, TransientError } from './errors';

describe('queue error taxonomy', () => {
  it('classifies each error type by its meaning for the queue', () => {
    expect(classifyError(new RateLimitedError('slow down', 1000))).toBe('rate_limited');
    expect(classifyError(new OverloadedError('busy'))).toBe('overloaded');
    expect(classifyError(new PermanentError('never'))).toBe('permanent');
    expect(classifyError(new UnrecoverableError('bullmq own'))).toBe('permanent');
    expect(classifyError(new TransientError('blip'))).toBe('transient');
  });

  it('malformed job data (a zod failure) is permanent; anything else unknown is transient', () => {
    const parsed = z.object({ id: z.string() }).safeParse({ id: 1 });
    expect(parsed.success).toBe(false);
    expect(classifyError(parsed.error)).toBe('permanent');
    expect(classifyError(new Error('socket hang up'))).toBe('transient');
    expect(classifyError(new TypeError('x is undefined'))).toBe('transient');
    expect(classifyError('a thrown string')).toBe('transient');
    expect(classifyError({ name: 'ZodError' })).toBe('transient');
    expect(classifyError(undefined)).toBe('transient');
  });

  it('each error carries its name, class and defaults', () => {
    const permanent = new PermanentError('never');
    expect(permanent).toMatchObject({ name: 'PermanentError', errorClass: 'permanent', reason: 'permanent', message: 'never' });
    expect(permanent).toBeInstanceOf(UnrecoverableError);
    const limited = new RateLimitedError('wait', 250);
    expect(limited).toMatchObject({ name: 'RateLimitedError', errorClass: 'rate_limited', waitMs: 250, source: 'upstream', message: 'wait' });
    expect(new RateLimitedError('wait', 1, 'gmail').source).toBe('gmail');
    const overloaded = new OverloadedError('busy');
    expect(overloaded).toMatchObject({ name: 'OverloadedError', errorClass: 'overloaded', source: 'upstream', message: 'busy' });
    expect(new OverloadedError('busy', 'anthropic').source).toBe('anthropic');
    const transient = new TransientError('blip');
    expect(transient).toMatchObject({ name: 'TransientError', errorClass: 'transient', reason: 'transient', message: 'blip' });
  });

  it('keeps a cause only when one is given', () => {
    const root = new Error('root');
    expect(new PermanentError('p', 'r', { cause: root }).cause).toBe(root);
    expect(new TransientError('t', 'r', { cause: root }).cause).toBe(root);
    // No `cause: undefined` key either: serialised errors (logs, dead letters) stay clean.
    expect(Object.hasOwn(new PermanentError('p', 'r', {}), 'cause')).toBe(false);
    expect(Object.hasOwn(new TransientError('t', 'r', {}), 'cause')).toBe(false);
    expect(Object.hasOwn(new TransientError('t'), 'cause')).toBe(false);
  });
});
