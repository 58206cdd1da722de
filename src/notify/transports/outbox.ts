import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { DeliveryChannel } from '../notices.js';
import type { OutgoingMessage, Transport } from '../transports.js';
import { checkChannel } from './delivery-error.js';

/**
 * Development's stand-in for a provider: each message is a file under DATA_DIR/outbox, named
 * so that `ls` lists them in the order sent and shows the channel and recipient, e.g.
 * 2026-11-30T13-05-00-123Z-sms-+15551230001-3fa9.txt. A reset's PIN is in there, so the
 * directory is the owner's alone (0700) and each file too (0600).
 */
export function outboxTransport(channel: DeliveryChannel, directory: string): Transport {
  return {
    channel,
    via: 'outbox',
    async send(message: OutgoingMessage): Promise<void> {
      checkChannel(message, channel);
      await mkdir(directory, { recursive: true, mode: 0o700 });
      // mkdir's mode only applies to a directory it creates.
      await chmod(directory, 0o700);
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const recipient = message.to.replace(/[^A-Za-z0-9+@._-]/g, '_');
      const file = path.join(directory, `${stamp}-${channel}-${recipient}-${randomBytes(2).toString('hex')}.txt`);
      const headers = [`To: ${message.to}`, ...(channel === 'email' ? [`Subject: ${message.subject ?? ''}`] : []), `Channel: ${channel}`];
      // A header value stays on its line, so the file reads the same however odd the address.
      const head = headers.map((line) => line.replace(/[\r\n]+/g, ' ')).join('\n');
      await writeFile(file, `${head}\n\n${message.text}\n`, { mode: 0o600, flag: 'wx' });
    },
    async close(): Promise<void> {},
  };
}
