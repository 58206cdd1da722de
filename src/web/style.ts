/** The one stylesheet of the admin and self-service pages: plain, readable, no framework. */
export const STYLESHEET = `
:root {
  --ink: #1b1f24;
  --muted: #4a525c;
  --line: #c9d0d8;
  --paper: #ffffff;
  --band: #f3f5f7;
  --accent: #0b5394;
  --accent-ink: #ffffff;
  --ok: #155724;
  --ok-band: #e3f3e6;
  --bad: #8a1c1c;
  --bad-band: #fbe9e9;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 16px;
  line-height: 1.45;
  color: var(--ink);
  background: var(--paper);
}
* { box-sizing: border-box; }
body { margin: 0; }
a { color: var(--accent); }
a:focus, button:focus, input:focus, select:focus, summary:focus { outline: 3px solid #f0b400; outline-offset: 1px; }
.skip { position: absolute; left: -10000px; }
.skip:focus { left: 1rem; top: 0.5rem; background: var(--paper); padding: 0.25rem 0.5rem; }

header.site { background: var(--accent); color: var(--accent-ink); }
header.site .bar { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1.5rem; max-width: 72rem; margin: 0 auto; padding: 0.6rem 1rem; }
header.site .bar.sections { padding-top: 0; }
header.site .brand { font-weight: 700; font-size: 1.1rem; color: var(--accent-ink); text-decoration: none; }
header.site nav ul { display: flex; flex-wrap: wrap; gap: 0.25rem 1.25rem; list-style: none; margin: 0; padding: 0; }
header.site nav a { color: var(--accent-ink); text-decoration: none; padding: 0.2rem 0; white-space: nowrap; }
header.site nav a[aria-current="page"] { border-bottom: 2px solid var(--accent-ink); }
header.site .who { margin-left: auto; display: flex; flex-wrap: wrap; justify-content: flex-end; align-items: center; gap: 0.25rem 0.75rem; }
header.site .who form { margin: 0; }
header.site .who button { background: transparent; color: var(--accent-ink); border: 1px solid var(--accent-ink); white-space: nowrap; }

main { max-width: 72rem; margin: 0 auto; padding: 1rem 1rem 3rem; }
h1 { font-size: 1.6rem; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 0.75rem; }
p.lead { color: var(--muted); margin-top: -0.5rem; }

nav.edit-menu { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.25rem 1rem; border-bottom: 1px solid var(--line); margin-bottom: 1rem; padding-bottom: 0.5rem; }
nav.edit-menu .label { font-weight: 700; }
nav.edit-menu a[aria-current="page"] { font-weight: 700; text-decoration: none; color: var(--ink); }

.actions { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: center; margin: 1rem 0; }
.actions form { margin: 0; }

form.stacked { max-width: 36rem; }
.field { margin-bottom: 0.9rem; }
.field > label, .field > .label { display: block; font-weight: 600; margin-bottom: 0.2rem; }
.field .help { display: block; color: var(--muted); font-size: 0.9rem; }
.check { display: flex; gap: 0.5rem; align-items: center; margin-bottom: 0.6rem; }
.check input { width: 1.1rem; height: 1.1rem; }
input[type="text"], input[type="password"], input[type="number"], input[type="search"], select {
  font: inherit; padding: 0.35rem 0.5rem; border: 1px solid #6b7580; border-radius: 3px; width: 100%; max-width: 24rem; background: var(--paper); color: var(--ink);
}
input[aria-invalid="true"] { border-color: var(--bad); }
button, .button {
  font: inherit; padding: 0.4rem 1rem; border-radius: 3px; border: 1px solid var(--accent); background: var(--accent); color: var(--accent-ink); cursor: pointer; text-decoration: none; display: inline-block;
}
button.secondary, .button.secondary { background: var(--paper); color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); color: #fff; }

.message { padding: 0.6rem 0.8rem; border-radius: 3px; margin: 0 0 1rem; border-left: 4px solid; }
.message.status { background: var(--ok-band); color: var(--ok); border-color: var(--ok); }
.message ul { margin: 0.3rem 0 0; padding-left: 1.2rem; }
.message.error a { color: var(--bad); }
.message.error { background: var(--bad-band); color: var(--bad); border-color: var(--bad); }
.secret { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; background: var(--band); padding: 0.5rem; word-break: break-all; }

table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; }
th, td { text-align: left; padding: 0.4rem 0.6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { background: var(--band); }
td.num, th.num { text-align: right; }
.table-region { overflow-x: auto; margin: 0.5rem 0 1rem; }
.table-region table { margin: 0; }
.table-region:focus { outline: 3px solid #f0b400; outline-offset: 1px; }
caption { text-align: left; color: var(--muted); padding-bottom: 0.3rem; }

dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.3rem 1.5rem; margin: 0 0 1rem; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
.readonly { display: grid; grid-template-columns: max-content 1fr; gap: 0.4rem 1.5rem; margin: 0 0 1rem; }
.readonly label { font-weight: 600; }

form.search { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: flex-end; margin-bottom: 1rem; }
form.search .field { margin: 0; }
.pager { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; }
.muted { color: var(--muted); }
pre { background: var(--band); padding: 0.5rem 0.75rem; border-radius: 3px; overflow-x: auto; }
.message pre { background: var(--paper); margin: 0.4rem 0 0; }
.message p { margin: 0; }
ul.ways li { margin-bottom: 0.4rem; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.9em; }

/* A phone held upright: nothing may make the page scroll sideways. Labels go above their values,
   a wide table scrolls in its own region, and elsewhere a long word (an address, a time, a rule
   name) breaks rather than widening its column. */
@media (max-width: 40rem) {
  main { padding: 0.75rem 0.75rem 2rem; }
  dl.facts, .readonly { grid-template-columns: minmax(0, 1fr); gap: 0.1rem; }
  dl.facts dd, .readonly output { margin-bottom: 0.5rem; }
  th, td, dd, output, caption { overflow-wrap: anywhere; }
  .table-region th, .table-region td { overflow-wrap: normal; }
  th, td { padding: 0.35rem 0.4rem; }
  .narrow-hidden { display: none; }
}
`;
