import { describe, expect, it } from 'vitest';
import { createUser } from '../support/factories.js';
import { heardKeys, usePhoneServer } from '../support/phone.js';

const phone = usePhoneServer();

async function credential(userId: number) {
  const { rows } = await phone.services.pool.query('SELECT * FROM pin_credentials WHERE user_id = $1', [userId]);
  return rows[0];
}

describe('first-time enrollment', () => {
  it('when a new user signs in, then they must choose a PIN, confirm it, and reach the main menu', async () => {
    const user = await createUser(phone.services, { enroll: true });
    const call = await phone.call([`${user.extension}#`, `${user.pin}#`, '604817#', '604817#', '*']);
    expect(call.error).toBeNull();
    expect(heardKeys(call, phone.services.catalog)).toEqual([
      'welcome',
      'signin.enter_id',
      'signin.enter_pin',
      'enroll.welcome',
      'pin.enter_new',
      'pin.confirm',
      'enroll.done',
      'menu.main',
      'goodbye',
    ]);
    expect(await credential(user.userId)).toMatchObject({ enrollment_pending: false, must_change: false });
    const signin = await phone.services.pins.verifySignin({ extension: user.extension, pin: '604817', actor: { channel: 'cli', name: 't' } });
    expect(signin.outcome).toBe('ok');
  });
});
