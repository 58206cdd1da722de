import { createHmac, timingSafeEqual } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import type { ImportOptions, ImportReport } from '../../../accounts/import.js';
import { InputError } from '../../../errors.js';
import { formChecked, formText } from '../../forms.js';
import { uploadFailure } from '../../uploads.js';
import { adminActor, allow, renderAdmin, type AdminDeps } from '../context.js';
import { APPLY_PATH, IMPORT_PATH, importForm, importPreview, importResults } from './import-views.js';

/** The paths whose multipart posts the browser security reads (see multipartUploads). */
export const IMPORT_UPLOAD_PATHS = [IMPORT_PATH, APPLY_PATH] as const;

const NAME_LENGTH = 100;
/**
 * Rows a preview or results page lists (issue 16 item 6): the counts cover the whole file, and a
 * page stays small however many one-cell rows fit in an upload.
 */
const PAGE_ROWS = 500;

/**
 * Apply is bound to the preview: a MAC, under a key of SESSION_SECRET, of the administrator's
 * session, the reset-PINs choice and the previewed bytes. A file that was not previewed in this
 * session, or was changed since, is refused.
 */
function previewMac(key: Buffer, sessionId: string, resetPins: boolean, data: Buffer): Buffer {
  return createHmac('sha256', key).update(`${sessionId}\0${resetPins ? 'reset' : 'keep'}\0`).update(data).digest();
}

/**
 * Users > Import Users (DESIGN §9): upload a CSV file, see the dry run, apply it. The import is the
 * CLI's own (services.userImport), so its rules and results are the same.
 */
export function importRoutes(deps: AdminDeps): Router {
  const { services } = deps;
  const router = Router();

  const showForm = (req: Request, res: Response, outcome: { status?: number; error?: string } = {}) =>
    renderAdmin(deps, req, res, { title: 'Import Users', section: 'users', status: outcome.status ?? 200 }, (csrf) =>
      importForm(csrf, { ...(outcome.error !== undefined ? { error: outcome.error } : {}), resetPins: formChecked(req, 'resetPins') }),
    );

  /** Runs the import; a problem with the file as a whole (a misspelt column) shows the form again with it. */
  const runImport = async (req: Request, res: Response, data: Buffer, options: ImportOptions): Promise<ImportReport | null> => {
    try {
      return await services.userImport.run(data, { ...options, keepRows: PAGE_ROWS }, adminActor(req));
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      showForm(req, res, { status: err.status, error: `The file cannot be imported: ${err.message}.` });
      return null;
    }
  };

  router.get('/users/import', allow(deps, 'users.import'), (req, res) => showForm(req, res));

  router.post('/users/import', allow(deps, 'users.import'), async (req, res) => {
    const failure = uploadFailure(req);
    if (failure) return showForm(req, res, { status: failure.status, error: failure.message });
    const file = req.file;
    // No file chosen: browsers that ignore `required` send an empty part without a name.
    if (!file || (file.size === 0 && file.originalname === '')) return showForm(req, res, { status: 422, error: 'Choose a CSV file to import.' });
    const resetPins = formChecked(req, 'resetPins');
    const name = file.originalname.slice(0, NAME_LENGTH);
    const report = await runImport(req, res, file.buffer, { dryRun: true, resetPins, file: name });
    if (!report) return;
    const mac = previewMac(services.sessionKeys.current.key('pinline import preview'), req.sessionID, resetPins, file.buffer);
    const preview = { base64: file.buffer.toString('base64'), name, resetPins, mac: mac.toString('base64url') };
    renderAdmin(deps, req, res, { title: 'Import Preview', section: 'users' }, (csrf) => importPreview(csrf, report, preview));
  });

  router.post('/users/import/apply', allow(deps, 'users.import'), async (req, res) => {
    const failure = uploadFailure(req);
    if (failure) return showForm(req, res, { status: failure.status, error: failure.message });
    const data = Buffer.from(formText(req, 'csv'), 'base64');
    if (data.length === 0) return showForm(req, res, { status: 422, error: 'There is no previewed file to apply. Choose the file again.' });
    const resetPins = formChecked(req, 'resetPins');
    const mac = Buffer.from(formText(req, 'mac'), 'base64url');
    // Any secret of the ring: a preview made just before a SESSION_SECRET rollout still applies.
    const previewed = services.sessionKeys.all.some((secret) => {
      const expected = previewMac(secret.key('pinline import preview'), req.sessionID, resetPins, data);
      return mac.length === expected.length && timingSafeEqual(mac, expected);
    });
    if (!previewed) {
      return showForm(req, res, { status: 422, error: 'That file was not previewed in this session, or it changed since. Preview it again, then apply.' });
    }
    const name = formText(req, 'name').slice(0, NAME_LENGTH) || 'the file';
    const report = await runImport(req, res, data, { dryRun: false, resetPins, file: name });
    if (!report) return;
    // Answered here, not redirected: the results belong to this one request.
    renderAdmin(deps, req, res, { title: 'Import Results', section: 'users' }, () => importResults(report, name));
  });

  return router;
}
