'use strict';
// The vitals live page: polls /vitals.json (docs/vitals-json.md) and draws it. Nothing here
// asks anything of another origin. window.vitalsPage tells tests what the page has done.
(function () {
  const page = { refreshes: 0, failures: 0, charts: {}, flame: null, doc: null };
  window.vitalsPage = page;
  const $ = (id) => document.getElementById(id);
  const COLORS = ['#2f6fde', '#d64545', '#2e9d5b', '#d88a1c', '#8a4fd6', '#1c9fb0', '#c2489a',
    '#6b7385', '#7a9a1c', '#b0601c'];
  const params = new URLSearchParams(location.search);

  // ---- formatting --------------------------------------------------------------------------
  const isNum = (v) => typeof v === 'number' && isFinite(v);
  function count(v) { return isNum(v) ? Math.round(v).toLocaleString('en-US') : '–'; }
  function rate(v) {
    if (!isNum(v)) return '–';
    return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  }
  function percent(v) { return isNum(v) ? (v * 100).toFixed(v < 0.1 ? 2 : 1) + ' %' : '–'; }
  function seconds(v) {
    if (!isNum(v)) return '–';
    const a = Math.abs(v);
    if (a === 0) return '0';
    if (a < 1e-3) return (v * 1e6).toFixed(0) + ' µs';
    if (a < 1) return (v * 1e3).toFixed(a < 0.01 ? 2 : a < 0.1 ? 1 : 0) + ' ms';
    if (a < 120) return v.toFixed(2) + ' s';
    return (v / 60).toFixed(1) + ' min';
  }
  // A latency quantile: one in the lowest bucket reads "≤ bound", one past the highest "≥ bound"
  // (the history's floor and ceiling), so no figure finer than the buckets is shown.
  let quantileFloor = null;
  let quantileCeiling = null;
  function quantile(v) {
    if (!isNum(v)) return '–';
    if (v === quantileFloor) return '≤ ' + seconds(v);
    if (v === quantileCeiling) return '≥ ' + seconds(v);
    return seconds(v);
  }
  function bytes(v) {
    if (!isNum(v)) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0, a = Math.abs(v);
    while (a >= 1024 && i < units.length - 1) { a /= 1024; i++; }
    return (v < 0 ? '-' : '') + (i === 0 ? a.toFixed(0) : a.toFixed(a < 10 ? 2 : 1)) + ' ' + units[i];
  }
  function clock(t) {
    if (!isNum(t)) return '–';
    const d = new Date(t * 1000);
    return d.toLocaleTimeString('en-GB', { hour12: false });
  }
  function ago(t, now) {
    return isNum(t) ? seconds(Math.max(0, now - t)) + ' ago' : '–';
  }

  // ---- DOM helpers -------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  }
  // A cell: [text, field name (data-field, for tests), numeric?, extra class].
  function fillTable(id, rows, emptyText) {
    const body = $(id).tBodies[0];
    const out = [];
    if (rows.length === 0) {
      const n = $(id).tHead.rows[0].cells.length;
      out.push(el('tr', { class: 'empty' }, el('td', { colspan: n, text: emptyText })));
    }
    for (const r of rows) {
      const tr = el('tr', r.key !== undefined ? { 'data-key': r.key } : {});
      for (const c of r.cells) {
        const td = el('td', { class: (c.num ? 'num ' : '') + (c.cls || '') });
        if (c.field) td.dataset.field = c.field;
        if (c.node) td.append(c.node); else td.textContent = c.text;
        if (c.title) td.title = c.title;
        tr.append(td);
      }
      out.push(tr);
    }
    body.replaceChildren(...out);
  }
  function tiles(id, items) {
    $(id).replaceChildren(...items.map(([k, v, field, cls]) => {
      const value = el('div', { class: 'v ' + (cls || ''), text: v });
      if (field) value.dataset.field = field;
      return el('div', { class: 'tile' }, value, el('div', { class: 'k', text: k }));
    }));
  }
  // A route's time split (db, outbound, self since start) as one stacked bar.
  const PARTS = ['db', 'outbound', 'self'];
  function split(t) {
    const total = t ? PARTS.reduce((a, p) => a + (t[p] || 0), 0) : 0;
    const box = el('span', { class: 'split' });
    if (total > 0) {
      for (const p of PARTS) {
        const b = el('b', { class: p });
        b.style.width = ((t[p] || 0) / total * 100).toFixed(1) + '%';
        box.append(b);
      }
    }
    return box;
  }
  function splitTitle(t) {
    const total = t ? PARTS.reduce((a, p) => a + (t[p] || 0), 0) : 0;
    return total > 0 ? PARTS.map((p) => p + ' ' + percent((t[p] || 0) / total)).join(' · ') : 'no time recorded';
  }
  function bar(used, max) {
    const share = isNum(used) && isNum(max) && max > 0 ? Math.min(1, used / max) : 0;
    const b = el('b');
    b.style.width = (share * 100).toFixed(1) + '%';
    if (share > 0.9) b.style.background = 'var(--bad)';
    return el('span', { class: 'bar' }, b);
  }

  // ---- charts ------------------------------------------------------------------------------
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }
  // Lines [{name, values}] over `times` (Unix seconds) into canvas `id`, y formatted by `fmt`.
  function chart(id, times, lines, fmt) {
    const canvas = $(id);
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr)) canvas.width = Math.round(w * dpr);
    if (canvas.height !== Math.round(h * dpr)) canvas.height = Math.round(h * dpr);
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const left = 62, right = 8, top = 6, bottom = 20;
    let max = 0, points = 0;
    for (const l of lines) for (const v of l.values) if (isNum(v) && v > max) max = v;
    max = niceMax(max);
    const t0 = times.length ? times[0] : 0, t1 = times.length ? times[times.length - 1] : 1;
    const x = (t) => left + (t1 > t0 ? (t - t0) / (t1 - t0) : 1) * (w - left - right);
    const y = (v) => top + (1 - v / max) * (h - top - bottom);
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#6b7385';
    g.strokeStyle = '#e3e6ec';
    g.lineWidth = 1;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4, yy = Math.round(y(v)) + 0.5;
      g.beginPath(); g.moveTo(left, yy); g.lineTo(w - right, yy); g.stroke();
      g.fillText(fmt(v), left - 6, yy);
    }
    g.textAlign = 'center';
    g.textBaseline = 'top';
    if (times.length > 1) {
      for (let i = 0; i <= 3; i++) {
        const t = t0 + ((t1 - t0) * i) / 3;
        g.fillText(clock(t).slice(0, 5 + (t1 - t0 < 600 ? 3 : 0)), x(t), h - bottom + 5);
      }
    }
    if (lines.length === 0 || times.length === 0) {
      g.textBaseline = 'middle';
      g.fillText(times.length < 2 ? 'collecting: the first points come one interval after start'
        : 'nothing recorded yet', left + (w - left - right) / 2, (h - bottom) / 2);
    }
    lines.forEach((l, i) => {
      g.strokeStyle = COLORS[i % COLORS.length];
      g.lineWidth = 1.6;
      g.beginPath();
      let pen = false;
      l.values.forEach((v, j) => {
        if (!isNum(v)) { pen = false; return; }
        const px = x(times[j]), py = y(v);
        if (pen) g.lineTo(px, py); else g.moveTo(px, py);
        if (!pen && (j + 1 >= l.values.length || !isNum(l.values[j + 1]))) g.arc(px, py, 1.5, 0, 7);
        pen = true;
        points++;
      });
      g.stroke();
    });
    canvas.dataset.points = String(points);
    page.charts[id] = points;
    const legend = $(id.replace('chart-', 'legend-'));
    if (legend) {
      legend.replaceChildren(...lines.map((l, i) => {
        const swatch = el('i');
        swatch.style.background = COLORS[i % COLORS.length];
        return el('span', {}, swatch, l.name);
      }));
    }
  }
  // The history's series whose key matches prefix:<name>:suffix, the busiest `limit` first.
  function pick(history, prefix, suffix, limit, rank) {
    const out = [];
    for (const [key, values] of Object.entries(history.series || {})) {
      if (!key.startsWith(prefix) || !key.endsWith(suffix)) continue;
      out.push({ name: key.slice(prefix.length, key.length - suffix.length), values });
    }
    const weight = (l) => {
      const vs = rank ? history.series[prefix + l.name + rank] || [] : l.values;
      return vs.reduce((s, v) => s + (isNum(v) ? v : 0), 0);
    };
    out.sort((a, b) => weight(b) - weight(a) || (a.name < b.name ? -1 : 1));
    return out.slice(0, limit);
  }
  function last(values) {
    for (let i = (values || []).length - 1; i >= 0; i--) if (isNum(values[i])) return values[i];
    return NaN;
  }

  // ---- the sections ------------------------------------------------------------------------
  function drawRequests(d) {
    const h = d.history, s = h.series || {};
    let total = 0, errors = 0, rated = 0;
    for (const r of d.routes) {
      const key = 'route:' + r.method + ' ' + r.route + ':';
      const rt = last(s[key + 'rate']);
      if (isNum(rt)) { total += rt; rated += 1; errors += rt * (last(s[key + 'error_ratio']) || 0); }
    }
    tiles('request-tiles', [
      ['requests per second', rated ? rate(total) : '–', 'rate'],
      ['errors (5xx, RPC server errors)', rated && total > 0 ? percent(errors / total) : '–',
        'error_ratio',
        total > 0 && errors / total > 0.01 ? 'bad' : ''],
      ['in flight', count(d.in_flight.requests), 'in_flight'],
      ['oldest in flight', seconds(d.in_flight.oldest_seconds), 'oldest',
        d.in_flight.oldest_seconds > 5 ? 'bad' : ''],
      ['slow requests since start', count(d.slow_requests_total), 'slow_total'],
    ]);
    const q = $('quantile').value;
    chart('chart-rate', h.times, pick(h, 'route:', ':rate', 8), rate);
    quantileFloor = h.quantile_floor_seconds;
    quantileCeiling = h.quantile_ceiling_seconds;
    chart('chart-latency', h.times, pick(h, 'route:', ':' + q, 8, ':rate'), seconds);
    chart('chart-errors', h.times, pick(h, 'route:', ':error_ratio', 8, ':rate'), percent);
    const routes = d.routes.slice().sort((a, b) => b.requests - a.requests);
    fillTable('routes', routes.map((r) => {
      const key = 'route:' + r.method + ' ' + r.route + ':';
      const ratio = last(s[key + 'error_ratio']);
      return {
        key: r.method + ' ' + r.route,
        cells: [
          { text: r.method + ' ' + r.route, cls: 'code' },
          { text: count(r.requests), num: true, field: 'requests' },
          { text: count(r.errors), num: true, field: 'errors', cls: r.errors > 0 ? 'bad' : '' },
          { text: rate(last(s[key + 'rate'])), num: true, field: 'rate' },
          { text: percent(ratio), num: true, cls: ratio > 0.01 ? 'bad' : '' },
          { text: quantile(last(s[key + 'p50'])), num: true, field: 'p50' },
          { text: quantile(last(s[key + 'p95'])), num: true, field: 'p95' },
          { text: quantile(last(s[key + 'p99'])), num: true, field: 'p99' },
          { text: seconds(r.mean_seconds), num: true, field: 'mean' },
          { node: split(r.time_seconds), field: 'split', title: splitTitle(r.time_seconds) },
          { text: count(r.sequential_requests), num: true, field: 'sequential',
            cls: r.sequential_requests > 0 ? 'warn' : '' },
        ],
      };
    }), 'no requests recorded yet');
    $('slow-total').textContent = '(the last ' + d.slow_requests.length + ' of ' +
      count(d.slow_requests_total) + ')';
    fillTable('slow', d.slow_requests.map((r) => ({
      cells: [
        { text: clock(r.time), title: new Date(r.time * 1000).toISOString() },
        { text: r.method }, { text: r.route, cls: 'code' },
        r.status_name  // an RPC's code by name
          ? { text: r.status_name, cls: r.status_name !== 'OK' ? 'warn' : '' }
          : { text: String(r.status), num: true, cls: r.status >= 500 ? 'bad' : '' },
        { text: seconds(r.seconds), num: true },
      ],
    })), 'no slow requests');
  }

  function drawMemory(d) {
    const m = d.memory, h = d.history, s = h.series || {};
    const growth = m.heap_growth_bytes_per_second;
    tiles('memory-tiles', [
      ['resident (RSS)', bytes(m.rss_bytes), 'rss'],
      ['heap in use', bytes(m.heap_bytes), 'heap'],
      ['heap growth (leak trend)', isNum(growth) ? bytes(growth) + '/s' : '–', 'growth',
        growth > 1024 * 1024 ? 'bad' : ''],
      ['allocator', m.allocator || 'unknown', 'allocator'],
      ['CPU time', seconds(m.cpu_seconds)],
      ['threads', count(m.threads)],
      ['open files', count(m.open_fds)],
    ]);
    const lines = [];
    if (s['memory:rss']) lines.push({ name: 'resident (RSS)', values: s['memory:rss'] });
    if (s['memory:heap']) lines.push({ name: 'heap in use', values: s['memory:heap'] });
    chart('chart-memory', h.times, lines, bytes);
    chart('chart-growth', h.times,
      s['memory:heap_growth'] ? [{ name: 'heap growth', values: s['memory:heap_growth'] }] : [],
      (v) => bytes(v) + '/s');
  }

  function drawCaches(d) {
    const h = d.history;
    chart('chart-hits', h.times, pick(h, 'cache:', ':hit_ratio', 8), percent);
    fillTable('cache-table', d.caches.map((c) => ({
      key: c.name,
      cells: [
        { text: c.name, cls: 'code' },
        { text: percent(c.hit_ratio), num: true, field: 'hit_ratio' },
        { text: count(c.hits), num: true, field: 'hits' },
        { text: count(c.misses), num: true, field: 'misses' },
        { node: el('span', {}, bar(c.size, c.max_size),
          count(c.size) + (isNum(c.max_size) ? ' / ' + count(c.max_size) : '')), field: 'size' },
        { text: count(c.evictions), num: true, field: 'evictions' },
        { text: count(c.evictions_unused), num: true },
      ],
    })), 'no caches registered');
  }

  // A statement's plan (explain_threshold): what the cell says, and the shown plan's text.
  function planLabel(p) {
    if (!p) return '';
    const c = p.index_candidates[0];
    if (c) {
      return 'index candidate: ' + c.table + (c.columns.length ? ' (' + c.columns.join(', ') + ')' : '') +
        (c.table_rows !== null ? ', ' + count(c.table_rows) + ' rows' : '');
    }
    return p.error ? 'EXPLAIN failed' : p.top;
  }
  function showPlan(d) {
    const out = $('plan');
    const st = d.db_statements.find((s) => s.statement === page.planStatement);
    if (!st || !st.plan) { out.hidden = true; return; }
    const p = st.plan;
    out.hidden = false;
    out.textContent = st.statement + '\n\n' + (p.error ? 'EXPLAIN failed: ' + p.error + '\n\n' : '') + p.text;
  }
  function drawDatabase(d) {
    const now = d.time;
    fillTable('statements', d.db_statements.map((st) => {
      let plan = { text: '' };
      if (st.plan) {
        const b = el('button', { type: 'button', class: 'plan' + (st.plan.index_candidates.length ? ' bad' : ''),
          text: planLabel(st.plan), title: 'explained ' + ago(st.plan.time, now) });
        b.addEventListener('click', () => {
          page.planStatement = page.planStatement === st.statement ? null : st.statement;
          showPlan(d);
        });
        plan = { node: b, field: 'plan' };
      }
      return {
        cells: [
          { text: st.statement, cls: 'code' }, { text: st.table },
          { text: count(st.calls), num: true, field: 'calls' },
          { text: seconds(st.total_seconds), num: true },
          { text: seconds(st.mean_seconds), num: true },
          { text: seconds(st.max_seconds), num: true },
          plan,
        ],
      };
    }), 'no database calls recorded');
    showPlan(d);
    fillTable('n-plus-one', d.n_plus_one.map((p) => ({
      cells: [
        { text: p.method + ' ' + p.route, cls: 'code' }, { text: p.statement, cls: 'code' },
        { text: p.table }, { text: count(p.requests), num: true },
        { text: count(p.last_calls) + ' / ' + count(p.max_calls), num: true, cls: 'bad' },
        { text: ago(p.last_time, now) },
      ],
    })), 'no N+1 pattern seen');
    const h = d.history;
    const lines = pick(h, 'pool:', ':used', 4).map((l) => ({ name: l.name + ' in use', values: l.values }))
      .concat(pick(h, 'pool:', ':pending', 4).map((l) => ({ name: l.name + ' waiting', values: l.values })));
    chart('chart-pools', h.times, lines, (v) => rate(v));
    fillTable('pools', d.pools.map((p) => ({
      key: p.name,
      cells: [
        { text: p.name, cls: 'code' },
        { node: el('span', {}, bar(p.used, p.max), count(p.used) + ' / ' + count(p.max)), field: 'used' },
        { text: count(p.idle), num: true }, { text: count(p.pending), num: true, cls: p.pending > 0 ? 'bad' : '' },
        { text: count(p.timeouts), num: true, cls: p.timeouts > 0 ? 'bad' : '' },
        { text: count(p.waits), num: true }, { text: seconds(p.mean_wait_seconds), num: true },
      ],
    })), 'no connection pools registered');
  }

  // When the series' last value took over, from the history: the time of the first point of
  // its final run of equal values (NaN when that run fills the window).
  function since(h, values) {
    if (!values || values.length === 0) return NaN;
    const v = values[values.length - 1];
    for (let i = values.length - 2; i >= 0; i--) if (values[i] !== v) return h.times[i + 1];
    return NaN;
  }
  function drawDependencies(d) {
    const h = d.history, s = h.series || {};
    fillTable('upstreams', d.upstreams.map((u) => {
      const key = 'upstream:' + u.peer + ':';
      return {
        key: u.peer,
        cells: [
          { text: u.peer, cls: 'code' },
          { text: count(u.calls), num: true, field: 'calls' },
          { text: rate(last(s[key + 'rate'])), num: true, field: 'rate' },
          { text: percent(u.calls > 0 ? u.errors / u.calls : NaN), num: true, field: 'errors',
            cls: u.errors / u.calls > 0.01 ? 'bad' : '' },
          { text: quantile(last(s[key + 'p99'])), num: true, field: 'p99' },
          { text: quantile(u.p99_seconds), num: true, field: 'p99_total' },
        ],
      };
    }), 'no outbound calls recorded');
    fillTable('breakers', d.breakers.map((b) => {
      const changed = since(h, s['breaker:' + b.name + ':state']);
      return {
        key: b.name,
        cells: [
          { text: b.name, cls: 'code' },
          { text: b.state || '–', field: 'state', cls: b.state === 'open' ? 'bad' : b.state === 'half_open' ? 'warn' : '' },
          { text: isNum(changed) ? ago(changed, d.time) : 'before the history', field: 'since' },
          { text: b.failure_rate_percent >= 0 ? b.failure_rate_percent.toFixed(1) + ' %' : '–', num: true },
          { text: count(b.not_permitted), num: true, field: 'refused', cls: b.not_permitted > 0 ? 'warn' : '' },
        ],
      };
    }), 'no circuit breakers registered');
    fillTable('executors', d.executors.map((e) => ({
      key: e.name,
      cells: [
        { text: e.name, cls: 'code' },
        { node: el('span', {}, bar(e.active, e.pool_size), count(e.active) + ' / ' + count(e.pool_size)), field: 'busy' },
        { text: count(e.queued), num: true, field: 'queued', cls: e.queued > 0 ? 'warn' : '' },
        { text: count(e.completed), num: true, field: 'completed' },
        { text: count(e.waits), num: true, field: 'waits' },
        { text: seconds(e.mean_wait_seconds), num: true },
        { text: count(e.stalled), num: true, field: 'stalled', cls: e.stalled > 0 ? 'bad' : '' },
      ],
    })), 'no thread pools registered');
  }

  // ---- threads: the busiest by CPU, and every stack on demand ---------------------------------
  function drawThreads(d) {
    const t = d.threads;
    $('thread-count').textContent = count(t.count);
    fillTable('busy-threads', t.busiest.map((b) => ({
      key: b.tid,
      cells: [
        { text: b.name, cls: 'code', field: 'name' },
        { text: String(b.tid), num: true, field: 'tid' },
        { text: t.window_seconds > 0 ? b.cpu_percent.toFixed(1) + ' %' : '–', num: true, field: 'cpu' },
        { text: seconds(b.cpu_seconds), num: true },
      ],
    })), 'no threads read');
    $('threads-window').textContent = t.window_seconds > 0
      ? 'CPU now: share of one CPU over the last ' + seconds(t.window_seconds) + '.'
      : 'CPU now: shown from the next refresh on.';
    const p = d.profiling, button = $('stacks-button');
    button.disabled = !(p.enabled && p.allowed);
    button.title = !p.enabled ? 'needs profiling: VITALS_PROFILING=1'
      : !p.allowed ? 'profiling answers loopback clients, or with VITALS_PROFILING_BASIC_AUTH' : '';
  }
  // ---- series budget: the families holding the most series ----------------------------------
  function drawSeries(d) {
    $('series-total').textContent = count(d.series_total) + ' series';
    fillTable('series-budget', d.series_budget.map((b) => ({
      key: b.metric,
      cells: [
        { text: b.metric, cls: 'code', field: 'metric' },
        { text: count(b.series), num: true, field: 'series' },
        { text: count(b.limit), num: true, field: 'limit' },
        { node: bar(b.series, b.limit), field: 'use' },
        { text: count(b.overflowed), num: true, field: 'overflowed', cls: b.overflowed > 0 ? 'bad' : '' },
        { text: b.expired === null ? '–' : count(b.expired), num: b.expired !== null, field: 'expired' },
      ],
    })), 'no series yet');
  }
  async function showStacks() {
    const status = $('stacks-status'), out = $('stacks');
    status.textContent = 'taking stacks…';
    try {
      const resp = await fetch('/debug/pprof/goroutine?debug=2', { cache: 'no-store' });
      const text = await resp.text();
      if (!resp.ok) throw new Error('HTTP ' + resp.status + ': ' + text.trim());
      out.textContent = text;
      out.hidden = false;
      const last = text.trim().split('\n').pop();
      status.textContent = last + ' · ' + new Date().toLocaleTimeString();
    } catch (e) {
      status.textContent = e.message;
    }
  }

  // ---- profiling: profile.proto decoding and the flame graph --------------------------------
  // A reader of protobuf wire format: varints as Numbers (exact below 2^53).
  function Reader(buf) { this.b = buf; this.p = 0; }
  Reader.prototype.varint = function () {
    let v = 0, m = 1, c;
    do { c = this.b[this.p++]; v += (c & 0x7f) * m; m *= 128; } while (c & 0x80);
    return v;
  };
  Reader.prototype.fields = function* (end) {
    while (this.p < end) {
      const key = this.varint(), wire = key % 8, field = Math.floor(key / 8);
      if (wire === 0) yield [field, 0, this.varint()];
      else if (wire === 2) { const n = this.varint(), at = this.p; this.p += n; yield [field, 2, at, this.p]; }
      else if (wire === 1) { this.p += 8; } else if (wire === 5) { this.p += 4; }
      else throw new Error('bad protobuf wire type ' + wire);
    }
  };
  // Repeated varints, packed or not, into `out`.
  function varints(r, f, out) {
    if (f[1] === 0) { out.push(f[2]); return; }
    const save = r.p; r.p = f[2];
    while (r.p < f[3]) out.push(r.varint());
    r.p = save;
  }
  function sub(r, f, fn) { const save = r.p; r.p = f[2]; fn(r.fields(f[3])); r.p = save; }
  // The stacks of a profile.proto: {samples: [{stack: [names root first], value}], unit}.
  function decodeProfile(buf) {
    const r = new Reader(buf), strings = [], types = [], samples = [], locations = new Map(),
      functions = new Map(), mappings = new Map();
    for (const f of r.fields(buf.length)) {
      if (f[0] === 6) strings.push(new TextDecoder().decode(buf.subarray(f[2], f[3])));
      else if (f[0] === 1) sub(r, f, (it) => { const t = {}; for (const g of it) { if (g[0] === 1) t.type = g[2]; if (g[0] === 2) t.unit = g[2]; } types.push(t); });
      else if (f[0] === 2) sub(r, f, (it) => { const s = { loc: [], val: [] }; for (const g of it) { if (g[0] === 1) varints(r, g, s.loc); if (g[0] === 2) varints(r, g, s.val); } samples.push(s); });
      else if (f[0] === 3) sub(r, f, (it) => { let id = 0, file = 0; for (const g of it) { if (g[0] === 1) id = g[2]; if (g[0] === 5) file = g[2]; } mappings.set(id, file); });
      else if (f[0] === 4) sub(r, f, (it) => {
        const loc = { lines: [], mapping: 0, address: 0 };
        let id = 0;
        for (const g of it) {
          if (g[0] === 1) id = g[2];
          if (g[0] === 2) loc.mapping = g[2];
          if (g[0] === 3) loc.address = g[2];
          if (g[0] === 4) sub(r, g, (jt) => { for (const k of jt) if (k[0] === 1) loc.lines.push(k[2]); });
        }
        locations.set(id, loc);
      });
      else if (f[0] === 5) sub(r, f, (it) => { let id = 0, name = 0; for (const g of it) { if (g[0] === 1) id = g[2]; if (g[0] === 2) name = g[2]; } functions.set(id, name); });
    }
    const v = Math.max(0, types.length - 1);  // pprof's default: the last sample type
    const name = (fid) => strings[functions.get(fid)] || '?';
    return {
      unit: types.length ? strings[types[v].unit] : '',
      type: types.length ? strings[types[v].type] : '',
      samples: samples.map((s) => {
        const stack = [];
        for (let i = s.loc.length - 1; i >= 0; i--) {
          const loc = locations.get(s.loc[i]) || { lines: [], mapping: 0, address: 0 };
          if (loc.lines.length === 0) {
            // No function known: the object's name, as pprof shows it ([libc.so.6]).
            const file = strings[mappings.get(loc.mapping)] || '';
            stack.push(file ? '[' + file.slice(file.lastIndexOf('/') + 1) + ']' : '0x' + loc.address.toString(16));
          }
          for (let j = loc.lines.length - 1; j >= 0; j--) stack.push(name(loc.lines[j]));  // caller first
        }
        return { stack, value: s.val[v] || 0 };
      }),
    };
  }
  async function gunzip(buf) {
    if (buf[0] !== 0x1f || buf[1] !== 0x8b) return buf;
    const stream = new Blob([buf]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  function flameTree(profile) {
    const root = { name: 'all', value: 0, children: new Map() };
    for (const s of profile.samples) {
      if (!(s.value > 0)) continue;
      root.value += s.value;
      let node = root;
      for (const fn of s.stack) {
        let c = node.children.get(fn);
        if (!c) { c = { name: fn, value: 0, children: new Map() }; node.children.set(fn, c); }
        c.value += s.value;
        node = c;
      }
    }
    return root;
  }
  function hue(name) {
    let h = 0;
    for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
    return 'hsl(' + (10 + (h % 40)) + ',' + (70 + (h % 20)) + '%,' + (55 + (h % 12)) + '%)';
  }
  const ROW = 18;
  function drawFlame() {
    const f = page.flame;
    if (!f) return;
    const canvas = $('flame'), dpr = window.devicePixelRatio || 1;
    const boxes = [];
    // Lay out from the zoomed node: it spans the width; its ancestors are drawn full width above.
    const w = canvas.clientWidth;
    const lay = (node, depth, x0, x1) => {
      if (x1 - x0 < 0.5) return;
      boxes.push({ node, depth, x0, x1 });
      let x = x0;
      const kids = [...node.children.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
      for (const c of kids) {
        const cw = ((x1 - x0) * c.value) / node.value;
        lay(c, depth + 1, x, x + cw);
        x += cw;
      }
    };
    f.path.forEach((n, i) => boxes.push({ node: n, depth: i, x0: 0, x1: w, ancestor: true }));
    lay(f.zoom, f.path.length, 0, w);
    const depth = boxes.reduce((m, b) => Math.max(m, b.depth), 0) + 1;
    canvas.style.height = depth * ROW + 'px';
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(depth * ROW * dpr);
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.font = '11px system-ui, sans-serif';
    g.textBaseline = 'middle';
    for (const b of boxes) {
      const y = b.depth * ROW;
      g.fillStyle = b.ancestor ? '#c9cfdb' : b.depth === 0 ? '#9aa6bd' : hue(b.node.name);
      g.fillRect(b.x0, y, Math.max(0.5, b.x1 - b.x0 - 0.5), ROW - 1);
      if (b.x1 - b.x0 > 28) {
        g.fillStyle = '#111';
        let label = b.node.name;
        const room = b.x1 - b.x0 - 6;
        if (g.measureText(label).width > room) {
          while (label.length > 1 && g.measureText(label + '…').width > room) label = label.slice(0, -1);
          label += '…';
        }
        g.fillText(label, b.x0 + 3, y + ROW / 2);
      }
    }
    f.boxes = boxes;
    canvas.dataset.frames = String(boxes.length);
  }
  function frameAt(ev) {
    const f = page.flame;
    if (!f || !f.boxes) return null;
    const rect = $('flame').getBoundingClientRect();
    const x = ev.clientX - rect.left, y = ev.clientY - rect.top, depth = Math.floor(y / ROW);
    return f.boxes.find((b) => b.depth === depth && x >= b.x0 && x < b.x1) || null;
  }
  function showProfile(buf, title) {
    const profile = decodeProfile(buf);
    const root = flameTree(profile);
    page.flame = { root, zoom: root, path: [], unit: profile.unit, title };
    page.flameFunctions = new Set(profile.samples.flatMap((s) => s.stack));
    $('flame-box').hidden = false;
    const total = profile.unit === 'nanoseconds' ? seconds(root.value * 1e-9) + ' of CPU'
      : count(root.value) + ' ' + profile.unit;
    $('flame-title').textContent = title + ': ' + total + ' in ' + profile.samples.length + ' stacks.';
    drawFlame();
  }
  function describe(node) {
    const f = page.flame, share = f.root.value ? node.value / f.root.value : 0;
    const v = f.unit === 'nanoseconds' ? seconds(node.value * 1e-9) : count(node.value) + ' ' + f.unit;
    return node.name + '\n' + v + ' (' + percent(share) + ')';
  }
  function setupFlame() {
    const canvas = $('flame'), tip = $('flame-tip');
    canvas.addEventListener('click', (ev) => {
      const b = frameAt(ev), f = page.flame;
      if (!b) return;
      if (b.ancestor || b.depth === 0) {
        const i = f.path.indexOf(b.node);
        f.zoom = b.node === f.root ? f.root : b.node;
        f.path = i >= 0 ? f.path.slice(0, i) : [];
      } else {
        // The zoomed node's ancestors: walk down from the current zoom to the clicked node.
        // The clicked frame is drawn below the zoom (depth > 0), so the walk always finds it.
        let found = null;
        const seek = (n, trail) => {
          if (found) return;
          if (n === b.node) { found = trail; return; }
          for (const c of n.children.values()) seek(c, trail.concat([n]));
        };
        seek(f.zoom, []);
        f.path = f.path.concat(found);
        f.zoom = b.node;
      }
      drawFlame();
    });
    canvas.addEventListener('mousemove', (ev) => {
      const b = frameAt(ev);
      if (!b) { tip.hidden = true; return; }
      tip.textContent = describe(b.node);
      tip.style.whiteSpace = 'pre';
      const box = $('flame-box').getBoundingClientRect();
      tip.style.left = Math.min(ev.clientX - box.left + 12, box.width - 300) + 'px';
      tip.style.top = ev.clientY - box.top + 14 + 'px';
      tip.hidden = false;
    });
    canvas.addEventListener('mouseleave', () => { tip.hidden = true; });
    window.addEventListener('resize', drawFlame);
  }
  async function fetchProfile(url, title) {
    const status = $('profile-status');
    const resp = await fetch(url, { cache: 'no-store' });
    const buf = new Uint8Array(await resp.arrayBuffer());
    if (!resp.ok) {
      status.textContent = 'the agent answered ' + resp.status + ': ' + new TextDecoder().decode(buf).trim();
      return false;
    }
    const blob = URL.createObjectURL(new Blob([buf], { type: 'application/octet-stream' }));
    const link = $('profile-download');
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = blob;
    link.hidden = false;
    showProfile(await gunzip(buf), title);
    return true;
  }
  async function takeProfile() {
    const button = $('profile-button'), status = $('profile-status');
    const secs = Number($('profile-seconds').value);
    button.disabled = true;
    const started = Date.now();
    const tick = setInterval(() => {
      status.textContent = 'profiling: ' + Math.min(secs, Math.round((Date.now() - started) / 1000)) + ' of ' + secs + ' s';
    }, 250);
    try {
      if (await fetchProfile('/debug/pprof/profile?seconds=' + secs, 'CPU profile of ' + secs + ' s')) {
        status.textContent = 'taken ' + clock(Date.now() / 1000);
        page.profiles = (page.profiles || 0) + 1;
      }
    } catch (e) {
      status.textContent = 'the profile could not be read: ' + e.message;
    } finally {
      clearInterval(tick);
      button.disabled = false;
    }
  }
  let autoSeen = '';
  async function drawAutoProfiles() {
    const resp = await fetch('/debug/pprof/auto/index.json', { cache: 'no-store' });
    if (!resp.ok) return;
    const index = await resp.json();
    const key = index.profiles.map((p) => p.id).join(',');
    $('auto-box').hidden = !index.enabled;
    if (key === autoSeen) return;
    autoSeen = key;
    fillTable('auto', index.profiles.map((p) => {
      const view = el('button', { type: 'button', text: 'flame graph' });
      view.addEventListener('click', () => {
        fetchProfile(p.url, 'automatic profile ' + p.id).catch((e) => {
          $('profile-status').textContent = e.message;
        });
      });
      return {
        cells: [
          { text: p.start }, { text: seconds(p.duration_seconds), num: true }, { text: p.trigger },
          { text: p.routes.map((r) => r.method + ' ' + r.route + ' (' + r.slow_requests + ')').join(', '), cls: 'code' },
          { node: view },
        ],
      };
    }), 'none yet: one is taken when slow requests burst');
  }
  function drawProfiling(d) {
    const p = d.profiling, off = $('profiling-off'), on = $('profiling-on');
    if (!p.enabled) {
      off.textContent = 'Profiling is off. Start the service with VITALS_PROFILING=1 (or set ' +
        'Options::profiling) to take CPU profiles and draw flame graphs here.';
    } else if (!p.allowed) {
      off.textContent = 'Profiling answers only clients on this machine (loopback), or clients ' +
        'with the credentials set in VITALS_PROFILING_BASIC_AUTH.';
      const a = el('a', { href: '/debug/pprof/', text: ' Sign in to profiling' });
      off.append(a);
    }
    off.hidden = p.enabled && p.allowed;
    on.hidden = !(p.enabled && p.allowed);
    if (p.enabled && p.allowed && p.auto) drawAutoProfiles().catch(() => {});
  }

  // ---- refresh -----------------------------------------------------------------------------
  function draw(d) {
    page.doc = d;
    $('service').textContent = d.service + (d.version ? ' · agent ' + d.version : '');
    document.title = d.service + ' · vitals';
    for (const e of document.querySelectorAll('.interval')) e.textContent = seconds(d.history.interval_seconds);
    drawRequests(d);
    drawMemory(d);
    drawCaches(d);
    drawDatabase(d);
    drawDependencies(d);
    drawThreads(d);
    drawSeries(d);
    drawProfiling(d);
  }
  let timer = null;
  async function refresh() {
    clearTimeout(timer);
    const state = $('state');
    page.busy = true;
    try {
      const resp = await fetch('/vitals.json', { cache: 'no-store' });
      if (!resp.ok) throw new Error('HTTP ' + resp.status);
      const d = await resp.json();
      if (d.schema !== 'vitals.json/1') throw new Error('unknown schema ' + d.schema);
      draw(d);
      page.refreshes++;
      state.textContent = 'live';
      state.className = 'state live';
      $('updated').textContent = 'updated ' + clock(d.time);
    } catch (e) {
      page.failures++;
      state.textContent = 'agent unreachable';
      state.className = 'state error';
      $('updated').textContent = e.message;
    }
    page.busy = false;
    const every = Number($('refresh').value);
    if (every > 0) timer = setTimeout(refresh, every * 1000);
  }
  // ?refresh=SECONDS picks the interval at load (the selector can change it later).
  const asked = Number(params.get('refresh'));
  if (asked > 0) {
    const select = $('refresh');
    if (![...select.options].some((o) => Number(o.value) === asked)) {
      select.add(el('option', { value: String(asked), text: asked + ' s' }), 0);
    }
    select.value = [...select.options].find((o) => Number(o.value) === asked).value;
  }
  $('refresh').addEventListener('change', () => {
    clearTimeout(timer);
    if (Number($('refresh').value) > 0) refresh();
  });
  $('quantile').addEventListener('change', () => { if (page.doc) drawRequests(page.doc); });
  $('profile-button').addEventListener('click', takeProfile);
  $('stacks-button').addEventListener('click', showStacks);
  window.addEventListener('resize', () => { if (page.doc) draw(page.doc); });
  setupFlame();
  refresh();
})();
