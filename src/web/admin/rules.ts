import { Router, type Request, type Response } from 'express';
import { RULE_SUMMARY } from '../../accounts/present.js';
import { InputError } from '../../errors.js';
import {
  DEFAULT_RULE_NAME,
  RULE_FIELDS,
  defaultRuleSettings,
  formatRuleValue,
  ruleSettingsOf,
  ruleValueFromText,
  type AuthRule,
  type RuleField,
  type RuleSettings,
} from '../../pin/rules.js';
import { formChecked, formText } from '../forms.js';
import { html } from '../html.js';
import { checkboxField, csrfField, formError, postButton, readonlyField, tableRegion, textField } from '../layout.js';
import { adminActor, allow, can, redirectWith, renderAdmin, type AdminDeps } from './context.js';

function ruleHref(name: string, suffix = ''): string {
  return `/admin/rules/${encodeURIComponent(name)}${suffix}`;
}

/**
 * The help line of a field on the form: its meaning (an empty lockout is admin-only), range and
 * default. The default as a bare number: the meaning has already said what 0 means.
 */
function fieldHelp(field: RuleField): string {
  const meaning = field.kind === 'minutes-or-admin' ? 'leave empty: only an administrator unlocks' : field.meaning;
  const range = field.kind === 'boolean' ? '' : `${field.min} to ${field.max}`;
  return [meaning, range, `default ${String(field.default)}`].filter(Boolean).join('; ');
}

/**
 * Reads the rule fields from the posted form; throws an InputError naming the first bad field. A
 * number field the form did not send at all (a form from before that field existed) keeps its
 * value; an empty one is read as typed (for the lockout: administrator unlock).
 */
function postedRuleSettings(req: Request): Partial<RuleSettings> {
  const body = (req.body ?? {}) as Record<string, unknown>;
  return Object.fromEntries(
    RULE_FIELDS.filter((field) => field.kind === 'boolean' || field.key in body).map((field) => [
      field.key,
      field.kind === 'boolean' ? formChecked(req, field.key) : ruleValueFromText(field, formText(req, field.key), field.label),
    ]),
  ) as Partial<RuleSettings>;
}

/** Authentication rules: list, create, edit (every field of DESIGN §2, with its default), delete. */
export function ruleRoutes(deps: AdminDeps): Router {
  const { services } = deps;
  const router = Router();

  router.get('/rules', allow(deps, 'read'), async (req, res) => {
    const rules = await services.accounts.listRules();
    renderAdmin(deps, req, res, { title: 'Authentication Rules', section: 'rules' }, () => html`
<h1>Authentication Rules</h1>
<p class="lead">Each user follows one rule. The defaults are Cisco’s Recommended Voice Mail Authentication Rule.</p>
${can(res)('rules.change') ? html`<p class="actions"><a class="button secondary" href="/admin/rules/new">New Rule</a></p>` : ''}
${tableRegion(
  'Authentication rules',
  html`<table>
  <caption>The main fields of each rule; choose a rule for all of them.</caption>
  <thead><tr><th scope="col">Name</th><th scope="col" class="num">Users</th>${RULE_SUMMARY.map(
    (column) => html`<th scope="col">${column.heading}</th>`,
  )}</tr></thead>
  <tbody>
  ${rules.map(
    (rule) => html`<tr><th scope="row"><a href="${ruleHref(rule.name)}">${rule.name}</a></th><td class="num">${rule.userCount}</td>${RULE_SUMMARY.map(
      (column) => html`<td>${column.value(rule)}</td>`,
    )}</tr>`,
  )}
  </tbody>
</table>`,
)}`);
  });

  const ruleForm = (
    req: Request,
    res: Response,
    options: { rule: AuthRule | null; status?: number; error?: string },
  ) => {
    const { rule } = options;
    const posted = req.method === 'POST';
    const current = rule ? ruleSettingsOf(rule) : defaultRuleSettings();
    const title = rule ? `Authentication Rule: ${rule.name}` : 'New Authentication Rule';
    // Whoever may not change rules reads the rule's values (DESIGN §11).
    if (rule && !can(res)('rules.change')) {
      renderAdmin(deps, req, res, { title, section: 'rules' }, () => html`
<h1>${title}</h1>
<div class="readonly">${RULE_FIELDS.map((field) => readonlyField(field.key, field.label, formatRuleValue(field, current[field.key])))}</div>`);
      return;
    }
    renderAdmin(deps, req, res, { title, section: 'rules', status: options.status ?? 200 }, (csrf) => html`
<h1>${title}</h1>
${formError(options.error)}
<form method="post" action="${rule ? ruleHref(rule.name) : '/admin/rules'}" class="stacked">
  ${csrfField(csrf)}
  ${rule ? '' : textField({ id: 'name', name: 'name', label: 'Name', value: posted ? formText(req, 'name') : '', required: true, help: 'letters, digits, spaces, “.”, “_” or “-”' })}
  ${RULE_FIELDS.map((field) => {
    if (field.kind === 'boolean') {
      return checkboxField({
        id: field.key,
        name: field.key,
        label: field.label,
        checked: posted ? formChecked(req, field.key) : Boolean(current[field.key]),
        help: `default ${formatRuleValue(field, field.default)}`,
      });
    }
    const value = posted ? formText(req, field.key) : current[field.key];
    return textField({
      id: field.key,
      name: field.key,
      label: field.label,
      type: 'number',
      value: value === null ? '' : String(value),
      required: field.kind === 'integer',
      inputmode: 'numeric',
      help: fieldHelp(field),
      min: field.min,
      max: field.max,
    });
  })}
  <button type="submit">Save</button>
</form>
${
  rule && rule.name !== DEFAULT_RULE_NAME
    ? html`<h2>Delete</h2><p>A rule that users still follow cannot be deleted.</p>${postButton(ruleHref(rule.name, '/delete'), csrf, 'Delete Rule', 'danger')}`
    : ''
}`);
  };

  const loadRule = (req: Request) => services.accounts.getRule(String(req.params.name ?? ''));

  router.get('/rules/new', allow(deps, 'rules.change'), (req, res) => ruleForm(req, res, { rule: null }));

  router.post('/rules', allow(deps, 'rules.change'), async (req, res) => {
    const name = formText(req, 'name');
    try {
      await services.accounts.createRule(name, postedRuleSettings(req), adminActor(req));
      await redirectWith(req, res, ruleHref(name), `Created rule ${name}`);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      ruleForm(req, res, { rule: null, status: err.status, error: err.message });
    }
  });

  router.get('/rules/:name', allow(deps, 'read'), async (req, res) => ruleForm(req, res, { rule: await loadRule(req) }));

  router.post('/rules/:name', allow(deps, 'rules.change'), async (req, res) => {
    const rule = await loadRule(req);
    try {
      await services.accounts.setRule(rule.name, postedRuleSettings(req), adminActor(req));
      await redirectWith(req, res, ruleHref(rule.name), `Saved rule ${rule.name}`);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      ruleForm(req, res, { rule, status: err.status, error: err.message });
    }
  });

  router.post('/rules/:name/delete', allow(deps, 'rules.change'), async (req, res) => {
    const rule = await loadRule(req);
    try {
      await services.accounts.deleteRule(rule.name, adminActor(req));
      await redirectWith(req, res, '/admin/rules', `Deleted rule ${rule.name}`);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      await redirectWith(req, res, ruleHref(rule.name), `Rule ${rule.name} was not deleted: ${err.message}`, 'error');
    }
  });

  return router;
}
