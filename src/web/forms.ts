import type { Request } from 'express';
import { checkPlainText } from '../accounts/model.js';

/** One text value of an urlencoded form (the first, if a name was sent twice), trimmed unless `keepSpaces`. */
export function formText(req: Request, name: string, options: { keepSpaces?: boolean } = {}): string {
  const body = (req.body ?? {}) as Record<string, unknown>;
  let value = body[name];
  if (Array.isArray(value)) value = value[0];
  if (typeof value !== 'string') return '';
  return options.keepSpaces ? value : value.trim();
}

/** A checkbox: browsers send it only when ticked. */
export function formChecked(req: Request, name: string): boolean {
  return formText(req, name) !== '';
}

/**
 * A query-string value, for the GET search and filter forms. A control character is refused
 * (400) before the value can reach a query: these forms have no fields of their own to check it.
 */
export function queryText(req: Request, name: string): string {
  const value = (req.query as Record<string, unknown>)[name];
  return typeof value === 'string' ? checkPlainText(`the search field "${name}"`, value).trim() : '';
}

/** A 1-based page number from the query string. */
export function queryPage(req: Request): number {
  const page = Number(queryText(req, 'page'));
  return Number.isInteger(page) && page >= 1 && page <= 100_000 ? page : 1;
}

/** A route's numeric id, or null when it is not one (then the page answers 404). */
export function routeId(value: string | undefined): number | null {
  return value !== undefined && /^[1-9][0-9]{0,15}$/.test(value) ? Number(value) : null;
}
