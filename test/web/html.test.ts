import { describe, expect, it } from 'vitest';
import { deriveKey } from '../../src/keys.js';
import { html } from '../../src/web/html.js';

describe('html', () => {
  it('when values are interpolated, then markup characters are escaped, nested templates are kept and nothing-values vanish', () => {
    const name = `<img src=x onerror="alert('x')">&`;
    const rows = ['a<b', 'c'].map((v) => html`<li>${v}</li>`);
    const page = html`<p title="${name}">${name}</p><ul>${rows}</ul>${false}${null}${undefined}${0}${html`<hr>`}`;
    expect(page.value).toBe(
      '<p title="&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;">&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;</p>' +
        '<ul><li>a&lt;b</li><li>c</li></ul>0<hr>',
    );
  });
});

describe('keys', () => {
  it('when keys are derived for two purposes, then they differ from each other and from the secret, and are stable', () => {
    const secret = 'test-session-secret-0123456789';
    const session = deriveKey(secret, 'pinline web session').toString('hex');
    const csrf = deriveKey(secret, 'pinline csrf').toString('hex');
    expect(deriveKey(secret, 'pinline call state v1').toString('hex')).not.toBe(session);
    expect(session).toMatch(/^[0-9a-f]{64}$/);
    expect(session).not.toBe(csrf);
    expect(session).not.toContain(secret);
    expect(deriveKey(secret, 'pinline web session').toString('hex')).toBe(session);
    expect(deriveKey(`${secret}x`, 'pinline web session').toString('hex')).not.toBe(session);
  });
});
