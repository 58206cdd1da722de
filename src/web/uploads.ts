import type { Request, RequestHandler } from 'express';
import multer from 'multer';

/** The largest CSV file an administrator may upload: some 20,000 rows of the import columns, or about 10,000 of a full export. */
export const UPLOAD_LIMIT_BYTES = 2 * 1024 * 1024;

/**
 * A form field may carry an uploaded file on to the next step (the import's Apply carries it as
 * base64, which is 4/3 the size), and nothing larger.
 */
const FIELD_LIMIT_BYTES = Math.ceil(UPLOAD_LIMIT_BYTES / 3) * 4 + 1024;

/** Why an upload could not be read, as the form shows it. */
export interface UploadFailure {
  status: 400 | 413;
  message: string;
}

const failures = new WeakMap<Request, UploadFailure>();

function describeUploadError(err: unknown): UploadFailure {
  if (err instanceof multer.MulterError && (err.code === 'LIMIT_FILE_SIZE' || err.code === 'LIMIT_FIELD_VALUE')) {
    return { status: 413, message: `The file is larger than ${UPLOAD_LIMIT_BYTES / (1024 * 1024)} MB. Split it into smaller files and import each.` };
  }
  return { status: 400, message: 'The upload could not be read. Choose the file again and send the form once more.' };
}

/**
 * Reads multipart form bodies (a file upload, field `file`) into memory, for a signed-in
 * administrator posting to one of `paths` only. It must run before the CSRF check, which reads the
 * form's `_csrf` field from the body; anyone else's multipart post is left unread and so fails that
 * check. A file over the limit, or a body that cannot be read, is not an error page: the request
 * goes on with what was read (the `_csrf` field comes first on the form) and the route shows
 * uploadFailure(req) on its form.
 */
export function multipartUploads(paths: readonly string[]): RequestHandler {
  const accepted = new Set(paths);
  const parse = multer({
    storage: multer.memoryStorage(),
    // Browsers send a file's name in UTF-8.
    defParamCharset: 'utf8',
    limits: { fileSize: UPLOAD_LIMIT_BYTES, files: 1, fieldSize: FIELD_LIMIT_BYTES, fields: 10, parts: 12 },
  }).single('file');
  return (req, res, next) => {
    if (req.method !== 'POST' || !accepted.has(req.baseUrl + req.path) || !req.session?.admin) return next();
    parse(req, res, (err: unknown) => {
      if (err) failures.set(req, describeUploadError(err));
      next();
    });
  };
}

/** Why this request's upload could not be read; null when it was read (or there was none). */
export function uploadFailure(req: Request): UploadFailure | null {
  return failures.get(req) ?? null;
}
