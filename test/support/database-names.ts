export const TEMPLATE_PREFIX = 'pinline_tpl_';
export const TEST_DB_PREFIX = 'pinline_test_';

/** The same server URL with another database name. */
export function databaseUrlFor(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
