import { describe, expect, it } from 'vitest';
import { describeFailure, isConnectionFailure } from '../src/errors.js';

/** An error as pg or Node reports it: a message and the fields they set. */
const failure = (message: string, fields: Record<string, string>) => Object.assign(new Error(message), fields);

describe('describeFailure for a database that cannot be used', () => {
  it.each([
    ['the server refused the connection', failure('connect ECONNREFUSED 127.0.0.1:5432', { code: 'ECONNREFUSED', syscall: 'connect' })],
    ["the embedded cluster's socket is not there", failure('connect ENOENT /tmp/x/.s.PGSQL.5432', { code: 'ENOENT', syscall: 'connect' })],
    ['the server is shutting down (57P01)', failure('terminating connection due to administrator command', { code: '57P01' })],
    ['the server is starting (57P03)', failure('the database system is starting up', { code: '57P03' })],
    ['a connection exception (08006)', failure('connection failure', { code: '08006' })],
    ['the password was refused (28P01)', failure('password authentication failed for user "pinline_app"', { code: '28P01' })],
    ['the connection ended under a query', new Error('Connection terminated unexpectedly')],
    ['no connection came in time', new Error('timeout exceeded when trying to connect')],
  ])('when %s, then it is 503 with Retry-After, and the CLI gets the database\'s own words', (_case, err) => {
    expect(isConnectionFailure(err)).toBe(true);
    expect(describeFailure(err)).toEqual({
      status: 503,
      code: 'unavailable',
      message: 'The database cannot be reached right now; try again in 5 seconds.',
      retryAfter: 5,
      detail: `cannot reach the database (${err.message})`,
    });
  });

  it.each([
    ['a file is missing (ENOENT, not from connect)', failure("ENOENT: no such file or directory, scandir '/app/messages/'", { code: 'ENOENT', syscall: 'scandir' })],
    ['a statement broke a unique constraint (23505)', failure('duplicate key value violates unique constraint', { code: '23505' })],
    ['a statement names no such table (42P01)', failure('relation "x" does not exist', { code: '42P01' })],
    ['a statement ran too long (57014)', failure('canceling statement due to statement timeout', { code: '57014' })],
  ])('when %s, then it is no database unavailability', (_case, err) => {
    expect(isConnectionFailure(err)).toBe(false);
    expect(describeFailure(err)).toBeNull();
  });
});
