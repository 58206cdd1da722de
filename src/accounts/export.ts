import { csvText } from '../csv.js';
import { USER_CSV_FIELDS, USER_CSV_STATUS, userCsvRow } from './present.js';
import type { AccountService } from './service.js';

const EXPORT_COLUMNS = [...USER_CSV_FIELDS, ...USER_CSV_STATUS];

/**
 * Every user as CSV that imports again (DESIGN §9), written page by page: for `pinline user export`
 * and the admin web's Export Users. With no user at all, the header row alone.
 */
export async function exportUsersCsv(accounts: AccountService, write: (text: string) => Promise<void>): Promise<void> {
  let first = true;
  await accounts.exportAccounts(async (page) => {
    const now = new Date();
    await write(csvText(EXPORT_COLUMNS, page.map((account) => userCsvRow(account, now)), { header: first }));
    first = false;
  });
  if (first) await write(csvText(EXPORT_COLUMNS, []));
}
