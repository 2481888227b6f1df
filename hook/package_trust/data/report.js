/* package-trust HTML report: renders the JSON in #report-data into the page. Text from
   lockfiles and ledgers only ever becomes text (textContent, append of strings,
   attribute values): never markup. No network, no eval, no inline style attributes. */
(() => {
  'use strict';
  const started = performance.now();
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const $ = (id) => document.getElementById(id);
  const LABEL = Object.fromEntries(data.statuses.map((s) => [s.id, s.label]));
  const RANK = {rejected: 0, unverifiable: 1, unaudited: 2, exempt: 3, audited: 4, skipped: 5};
  const number = new Intl.NumberFormat('en');

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key === 'on') for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  function day(seconds) {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '';
    const date = new Date(seconds * 1000);
    return Number.isNaN(date.getTime()) ? '' : date.toISOString().slice(0, 10);
  }

  const joined = (value, sep) => (Array.isArray(value) ? value.join(sep) : value == null ? '' : String(value));
  const badge = (status) => el('span', {class: `badge s-${status}`, text: LABEL[status] || status});

  // ---- packages ------------------------------------------------------------------------
  const pkgs = data.packages;
  const present = (key) => pkgs.some((p) => p[key] !== null && p[key] !== undefined);
  const OPTIONAL = [
    {key: 'scope', label: 'Scope', cell: (p) => joined(p.scope, ', '), sort: (p) => joined(p.scope, ', ')},
    {key: 'via', label: 'Via', cell: (p) => joined(p.via, ' › '), sort: (p) => joined(p.via, ' › ')},
    {key: 'chain', label: 'Delta chain', cell: (p) => joined(p.chain, ' → '), sort: (p) => joined(p.chain, ' → ')},
    {key: 'lines', label: 'Lines', num: true, cell: (p) => (p.lines == null ? '' : number.format(p.lines)), sort: (p) => p.lines ?? -1},
  ];
  const columns = [
    {key: 'package', label: 'Package', sort: (p) => `${p.name}@${p.version}`},
    {key: 'status', label: 'Status', sort: (p) => RANK[p.status] ?? 9},
    {key: 'signatures', label: 'Signed by', sort: (p) => p.signatures},
    {key: 'signed', label: 'Last signed', sort: (p) => p.signed ?? 0},
    ...OPTIONAL.filter((c) => present(c.key)),
    {key: 'where', label: 'Lockfile', sort: (p) => `${p.lockfile}\u0000${String(p.line ?? 0).padStart(9, '0')}`},
    {key: 'why', label: 'Why'},
  ];
  const hay = pkgs.map((p) => [p.name, p.version, `${p.name}@${p.version}`, p.status, p.reason,
    ...p.signers, ...p.rejected_by, joined(p.via, ' '), joined(p.scope, ' '), ...p.paths]
    .join('\n').toLowerCase());
  const rows = [];
  const details = [];
  let order = pkgs.map((_, i) => i);
  let sortBy = null;
  let sortDir = 1;
  const active = new Set();

  function packageCell(p, i) {
    const toggle = el('button', {
      class: 'toggle', type: 'button', 'aria-expanded': 'false', 'aria-controls': `detail-${i}`,
      'aria-label': `Statements and paths of ${p.name}@${p.version}`, text: '▸',
      on: {click: () => toggleDetail(i, toggle)},
    });
    return el('td', {class: 'pkg'}, toggle, el('code', {text: p.name}),
      p.version ? el('span', {class: 'ver', text: `@${p.version}`}) : null,
      p.new === true ? el('span', {class: 'badge new', text: 'new'}) : null);
  }

  function signersCell(p) {
    const names = p.status === 'rejected' ? p.rejected_by : p.signers;
    const counted = ['audited', 'unaudited', 'rejected'].includes(p.status);
    const count = counted ? `${p.signatures}/${p.required} ` : '';
    return el('td', {}, count ? el('span', {class: 'mono', text: count}) : null, names.join(', '));
  }

  function buildRow(p, i) {
    const tr = el('tr', {'data-status': p.status});
    tr.append(packageCell(p, i), el('td', {}, badge(p.status)), signersCell(p),
      el('td', {class: 'mono', text: day(p.signed)}));
    for (const c of columns) {
      if (OPTIONAL.includes(c)) tr.append(el('td', {class: c.num ? 'num' : '', text: c.cell(p)}));
    }
    const where = p.line ? `${p.lockfile}:${p.line}` : p.lockfile;
    tr.append(el('td', {class: 'mono', text: where}),
      el('td', {class: 'why', text: p.reason === p.status ? '' : p.reason}));
    return tr;
  }

  function statementItem(s) {
    const weight = s.counted ? 'counted' : s.rejects ? 'a binding rejection' : 'not counted';
    const signed = day(s.signed_at) ? `, signed ${day(s.signed_at)}` : '';
    return el('li', {}, `${s.signer}: ${s.verdict || 'audited'} (gpg: ${s.outcome}${signed}); ${weight}`,
      s.problem ? el('div', {class: 'why', text: s.problem}) : null,
      s.notes ? el('div', {class: 'notes', text: s.notes}) : null,
      el('div', {class: 'note mono', text: s.origin}));
  }

  function detailRow(p, i) {
    const list = el('dl', {});
    const item = (term, ...value) => list.append(el('dt', {text: term}), el('dd', {}, ...value));
    item('status', p.reason === p.status ? LABEL[p.status] : `${LABEL[p.status]}: ${p.reason}`);
    if (p.problems.length) item('problems', el('ul', {}, ...p.problems.map((x) => el('li', {text: x}))));
    if (p.exemption) item('exemption', p.exemption);
    item('source', p.source);
    item('installed at', el('ul', {}, ...p.paths.map((x) => el('li', {class: 'mono', text: x}))));
    item('statements', p.statements.length
      ? el('ul', {}, ...p.statements.map(statementItem)) : 'none in the ledgers');
    return el('tr', {class: 'detail', id: `detail-${i}`},
      el('td', {colspan: String(columns.length)}, list));
  }

  function toggleDetail(i, button) {
    const open = button.getAttribute('aria-expanded') !== 'true';
    button.setAttribute('aria-expanded', String(open));
    button.textContent = open ? '▾' : '▸';
    if (open) {
      details[i] = detailRow(pkgs[i], i);
      rows[i].after(details[i]);
    } else {
      details[i].remove();
      details[i] = null;
    }
  }

  let showing = '';
  function update() {
    const query = $('search').value.trim().toLowerCase();
    const shown = order.filter((i) => (!active.size || active.has(pkgs[i].status))
      && (!query || hay[i].includes(query)));
    const key = shown.join(',');
    if (key === showing) return; // the same rows in the same order: nothing to lay out again
    showing = key;
    const fragment = document.createDocumentFragment();
    for (const i of shown) {
      fragment.append(rows[i]);
      if (details[i]) fragment.append(details[i]);
    }
    $('package-rows').replaceChildren(fragment);
    $('no-match').hidden = shown.length > 0;
    $('shown').textContent = `Showing ${number.format(shown.length)} of ${number.format(pkgs.length)} packages`;
  }

  function sortOn(column) {
    sortDir = sortBy === column ? -sortDir : 1;
    sortBy = column;
    const key = pkgs.map(column.sort);
    const byName = (a, b) => (pkgs[a].name < pkgs[b].name ? -1 : pkgs[a].name > pkgs[b].name ? 1 : 0);
    order = pkgs.map((_, i) => i).sort((a, b) => {
      const x = key[a];
      const y = key[b];
      const c = typeof x === 'number' ? x - y : x < y ? -1 : x > y ? 1 : 0;
      return c * sortDir || byName(a, b);
    });
    for (const th of $('package-head').children) th.removeAttribute('aria-sort');
    column.th.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending');
    update();
  }

  function filterButton(id, label, count) {
    const button = el('button', {
      type: 'button', 'aria-pressed': 'false', 'data-filter': id,
      on: {click: () => {
        if (id === 'all') active.clear();
        else if (active.has(id)) active.delete(id);
        else active.add(id);
        for (const b of $('filters').children) {
          const f = b.dataset.filter;
          b.setAttribute('aria-pressed', String(f === 'all' ? active.size === 0 : active.has(f)));
        }
        update();
      }},
    }, id === 'all' ? null : el('span', {class: `swatch s-${id}`, 'aria-hidden': 'true'}),
    `${label} (${number.format(count)})`);
    return button;
  }

  function renderPackages() {
    const head = $('package-head');
    for (const column of columns) {
      const th = el('th', {scope: 'col', class: `c-${column.key}${column.num ? ' num' : ''}`});
      column.th = th;
      if (column.sort) th.append(el('button', {type: 'button', text: column.label, on: {click: () => sortOn(column)}}));
      else th.textContent = column.label;
      head.append(th);
    }
    pkgs.forEach((p, i) => rows.push(buildRow(p, i)));
    const filters = $('filters');
    filters.append(filterButton('all', 'All', pkgs.length));
    filters.firstChild.setAttribute('aria-pressed', 'true');
    for (const s of data.statuses) {
      const count = data.counts[s.id];
      if (count) filters.append(filterButton(s.id, s.label, count));
    }
    $('search').addEventListener('input', update);
    $('search').addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { e.target.value = ''; update(); }
    });
    document.addEventListener('keydown', (e) => {
      if (e.key === '/' && document.activeElement.tagName !== 'INPUT') {
        e.preventDefault();
        $('search').focus();
      }
    });
    sortOn(columns[1]); // failing first: rejected, unverifiable, unaudited, then the rest
    $('packages').hidden = false;
  }

  // ---- reviewers -----------------------------------------------------------------------
  function renderReviewers() {
    const list = $('reviewer-list');
    const most = Math.max(1, ...data.reviewers.map((r) => r.audited + r.rejected));
    for (const r of data.reviewers) {
      const meter = el('span', {class: 'meter', 'aria-hidden': 'true'}, el('span', {}));
      meter.firstChild.style.width = `${(100 * (r.audited + r.rejected)) / most}%`;
      const rejected = r.rejected ? `, rejected ${number.format(r.rejected)}` : '';
      const summary = el('summary', {},
        el('span', {class: 'who', text: r.name}),
        el('span', {text: `audited ${number.format(r.audited)}${rejected}`}), meter,
        el('span', {class: 'note', text: `newest ${day(r.newest) || '—'}, first ${day(r.oldest) || '—'}`}),
        r.fingerprint ? el('code', {class: 'note', title: r.fingerprint, text: r.fingerprint.slice(-16)}) : null);
      const box = el('details', {}, summary);
      box.addEventListener('toggle', () => {
        if (!box.open || box.querySelector('ol')) return;
        box.append(el('ol', {}, ...r.packages.map((x) => el('li', {},
          el('code', {text: x.spec}), ` ${x.verdict === 'rejected' ? 'rejected' : ''} ${day(x.signed_at)}`))));
      });
      list.append(el('li', {}, box));
    }
    $('reviewers').hidden = data.reviewers.length === 0;
  }

  // ---- exemptions ----------------------------------------------------------------------
  function renderExemptions() {
    const body = $('exemption-rows');
    for (const x of data.exemptions) {
      const flag = x.expired ? 'expired ' : x.soon ? 'expires soon ' : '';
      body.append(el('tr', {class: x.expired ? 'expired' : x.soon ? 'soon' : ''},
        el('td', {}, el('code', {text: x.package})), el('td', {text: x.reason}),
        el('td', {}, flag ? el('span', {class: 'flag', text: flag}) : null,
          x.expires || (data.expiry_known ? 'never' : '—')),
        el('td', {class: 'num', text: x.packages == null ? '' : number.format(x.packages)})));
    }
    if (!data.expiry_known) {
      $('exemption-note').textContent = 'The exemptions that applied in this check. Their '
        + 'expiry dates are in the policy; this report does not carry them.';
    }
    $('exemptions').hidden = data.exemptions.length === 0;
  }

  // ---- backlog (package-trust suggest) -------------------------------------------------
  function renderBacklog() {
    const backlog = data.backlog;
    if (!backlog) return;
    $('backlog-total').textContent = `Audit backlog: ${number.format(backlog.lines)} lines `
      + `(${number.format(backlog.items.length)} packages), smallest review first.`;
    const body = $('backlog-rows');
    for (const x of backlog.items) {
      const review = x.from ? `delta from ${x.from}` : !x.kind || x.kind === 'full' ? 'full audit' : x.kind;
      body.append(el('tr', {}, el('td', {}, el('code', {text: x.package})), el('td', {text: review}),
        el('td', {class: 'num', text: x.lines == null ? '' : number.format(x.lines)}),
        el('td', {}, x.command ? el('code', {text: x.command}) : null)));
    }
    $('backlog').hidden = false;
  }

  renderPackages();
  renderReviewers();
  renderExemptions();
  renderBacklog();
  document.body.dataset.renderMs = (performance.now() - started).toFixed(1);
})();
