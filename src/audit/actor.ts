/** The channel an action came through (DESIGN §3 "Audit"). */
export type Channel = 'phone' | 'web' | 'admin' | 'api' | 'cli' | 'scim' | 'system';

/** Who did it, and through which channel. */
export interface Actor {
  channel: Channel;
  /** e.g. 'admin:alice', 'user:1001', 'cli', 'caller:+15551230001', 'scim:okta' */
  name: string;
}
