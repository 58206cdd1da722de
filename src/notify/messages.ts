import { fileURLToPath } from 'node:url';
import { MessageCatalog } from '../catalog.js';
import type { DeliveryChannel, Notice, NoticeKind } from './notices.js';

/** messages/ at the package root; the same relative path from src/notify and dist/notify. */
const MESSAGES_DIR = fileURLToPath(new URL('../../messages/', import.meta.url));

const NOTICE_KINDS: readonly NoticeKind[] = ['pin_reset', 'pin_changed', 'lockout', 'web_password_changed', 'email_changed'];

/** The arguments each notice's text is written with: exactly what the notice carries, no more. */
const ARGUMENTS: Readonly<Record<NoticeKind, readonly string[]>> = {
  pin_reset: ['pin', 'hours'],
  pin_changed: ['by'],
  lockout: [],
  web_password_changed: ['by'],
  email_changed: ['previousAddress'],
};

type MessageKey = `${NoticeKind}.subject` | `${NoticeKind}.text`;

const MESSAGE_KEYS = NOTICE_KINDS.flatMap((kind) => [`${kind}.subject`, `${kind}.text`] as MessageKey[]);

/** The message texts, in ICU MessageFormat per locale, checked at start like the prompts. */
export type MessageTexts = MessageCatalog<MessageKey>;

export function loadMessageTexts(directory: string = MESSAGES_DIR): MessageTexts {
  return MessageCatalog.load({
    name: 'messages',
    directory,
    keys: MESSAGE_KEYS,
    arguments: Object.fromEntries(NOTICE_KINDS.map((kind) => [`${kind}.text`, ARGUMENTS[kind]])) as Partial<Record<MessageKey, readonly string[]>>,
  });
}

/** A notice in the user's language: a subject for e-mail, and the text (a text message is the text alone). */
export function renderNotice(texts: MessageTexts, locale: string, channel: DeliveryChannel, notice: Notice): { subject?: string; text: string } {
  const { kind, ...params } = notice;
  const text = texts.render(locale, `${kind}.text`, params);
  return channel === 'email' ? { subject: texts.render(locale, `${kind}.subject`), text } : { text };
}
