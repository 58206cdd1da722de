/** A page as the client saw it. */
export interface WebResponse {
  status: number;
  body: string;
  location: string | null;
  setCookies: string[];
  headers: Headers;
}

/**
 * A browser without a browser: keeps cookies, follows nothing by itself, and fills the hidden
 * `_csrf` field from the last page it loaded, as a real form post would.
 */
export class WebClient {
  readonly cookies = new Map<string, string>();
  private lastPage = '';

  constructor(
    readonly baseUrl: string,
    private readonly extraHeaders: Record<string, string> = {},
  ) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  private async send(method: 'GET' | 'POST', path: string, body?: URLSearchParams | FormData): Promise<WebResponse> {
    // An absolute URL goes elsewhere (an identity provider), with the same cookie jar, as a browser's.
    const response = await fetch(/^https?:\/\//.test(path) ? path : `${this.baseUrl}${path}`, {
      method,
      redirect: 'manual',
      headers: {
        ...this.extraHeaders,
        ...(this.cookies.size > 0 ? { cookie: this.cookieHeader() } : {}),
        // fetch writes a FormData's multipart content type itself, with its boundary.
        ...(body instanceof URLSearchParams ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(body ? { body: body instanceof URLSearchParams ? body.toString() : body } : {}),
    });
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a)) || value === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await response.text();
    if (method === 'GET' || response.status !== 303) this.lastPage = text;
    return { status: response.status, body: text, location: response.headers.get('location'), setCookies, headers: response.headers };
  }

  get(path: string): Promise<WebResponse> {
    return this.send('GET', path);
  }

  /** GET, following redirects (as a browser would after a Post/Redirect/Get). */
  async load(path: string): Promise<WebResponse> {
    let response = await this.get(path);
    for (let hops = 0; response.location && hops < 5; hops++) response = await this.get(response.location);
    return response;
  }

  /** The CSRF token of the last page loaded. */
  csrf(): string {
    const match = /name="_csrf" value="([^"]+)"/.exec(this.lastPage);
    if (!match?.[1]) throw new Error('no _csrf field on the last page');
    return match[1];
  }

  /**
   * Posts a form. `csrf: 'page'` (default) sends the token of the last page, as a browser does;
   * a string sends that token; null sends none.
   */
  post(path: string, fields: Record<string, string>, options: { csrf?: 'page' | string | null } = {}): Promise<WebResponse> {
    const csrf = options.csrf === undefined || options.csrf === 'page' ? this.csrf() : options.csrf;
    const body = new URLSearchParams(fields);
    if (csrf !== null) body.set('_csrf', csrf);
    return this.send('POST', path, body);
  }

  /**
   * Posts a multipart form (enctype="multipart/form-data"), in the order a browser sends a page's
   * fields: the token first (as `post` chooses it), then `fields`, then the file if there is one.
   */
  postMultipart(
    path: string,
    fields: Record<string, string>,
    file: { field: string; name: string; content: string | Uint8Array } | null,
    options: { csrf?: 'page' | string | null } = {},
  ): Promise<WebResponse> {
    const csrf = options.csrf === undefined || options.csrf === 'page' ? this.csrf() : options.csrf;
    const body = new FormData();
    if (csrf !== null) body.set('_csrf', csrf);
    for (const [name, value] of Object.entries(fields)) body.set(name, value);
    if (file) body.set(file.field, new Blob([file.content], { type: 'text/csv' }), file.name);
    return this.send('POST', path, body);
  }

  /** The value of a hidden field on the last page loaded. */
  hiddenField(name: string): string {
    const match = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)"`).exec(this.lastPage);
    if (match?.[1] === undefined) throw new Error(`no hidden ${name} field on the last page`);
    return match[1];
  }

  /** Posts, then follows the redirect the way a browser shows the next page. */
  async submit(path: string, fields: Record<string, string>, options: { csrf?: 'page' | string | null } = {}): Promise<WebResponse> {
    const response = await this.post(path, fields, options);
    return response.status === 303 && response.location ? this.load(response.location) : response;
  }

  async signInAsAdmin(credentials: { username: string; password: string }): Promise<WebResponse> {
    await this.load('/admin/signin');
    return this.submit('/admin/signin', credentials);
  }

  async signInAsUser(extension: string, password: string): Promise<WebResponse> {
    await this.load('/me');
    return this.submit('/me/signin', { extension, password });
  }
}

/** The visible text of an HTML page, roughly: tags dropped, entities of the escaper undone, spaces squeezed. */
export function textOf(page: string): string {
  return page
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}
