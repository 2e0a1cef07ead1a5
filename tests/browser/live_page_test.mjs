// The agent's live page in a real browser: Debian's chromium, headless, driven by
// playwright-core, against the real demo service started here on free ports.
//
//   node live_page_test.mjs --demo PATH --out DIR CASE
//
// CASE is one of: numbers (the page's figures equal /metrics after known requests; charts
// drawn; no console error; nothing fetched from elsewhere; page weight; agent memory flat while
// the page refreshes), profiling-off (degrades cleanly), flame-graph (a CPU profile taken with
// the button and drawn; the screenshot the README shows), auto-profiles (the automatic profiles
// listed, one drawn). Exits 1 with the reason on failure.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const DEMO = opt('--demo');
const OUT = opt('--out');
const CASE = args[args.length - 1];
const TCMALLOC = opt('--tcmalloc');  // for exact heap figures (glibc's drift with its caches)
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

// ---- the demo ------------------------------------------------------------------------------
// Starts the demo; resolves to {proc, app, agent} (base URLs) once it prints its addresses.
function startDemo(env, demoArgs) {
  return new Promise((resolve, reject) => {
    const proc = spawn(DEMO, ['--port=0', '--grpc-port=0', ...demoArgs], {
      env: { ...process.env, VITALS_LISTEN: '127.0.0.1:0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error('the demo did not start: ' + out)), 20000);
    const onData = (chunk) => {
      out += chunk;
      const m = out.match(/demo service: (http:\/\/[^/\s]+)\/\s+metrics: (http:\/\/[^/\s]+)\/metrics/);
      if (m) { clearTimeout(timer); resolve({ proc, app: m[1], agent: m[2], output: () => out }); }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', (c) => { out += c; });
    proc.on('exit', (code) => reject(new Error('the demo exited with ' + code + ': ' + out)));
  });
}
function stopDemo(demo) {
  if (!demo) return;
  demo.proc.removeAllListeners('exit');
  demo.proc.kill('SIGTERM');
}

async function get(url, init) {
  const resp = await fetch(url, init);
  const body = await resp.text();
  return { status: resp.status, body };
}
const post = (url, body) => get(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
// Polls `done` (async) until it holds, at most `timeout` ms; throws when it never does.
async function waitFor(done, timeout = 20000) {
  const deadline = Date.now() + timeout;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('condition not met in ' + timeout + ' ms');
    await new Promise((r) => setTimeout(r, 50));
  }
}
// The sum of a family's samples in /metrics text whose labels include all of `labels`.
function metricSum(text, name, labels = {}, predicate = () => true) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const m = line.match(/^[^{ ]+(?:\{(.*)\})? (\S+)/);
    const have = {};
    for (const [, k, v] of (m[1] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have[k] = v;
    if (Object.entries(labels).every(([k, v]) => have[k] === v) && predicate(have)) sum += Number(m[2]);
  }
  return sum;
}
// Resident and heap bytes of a process, from /proc (RSS) and the agent's own gauge (heap).
function rssBytes(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Number(m[1]) * 1024;
}

// ---- the browser ---------------------------------------------------------------------------
// A page with every console message, page error and request recorded.
async function openPage(browser, url) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const log = { errors: [], requests: [] };
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') log.errors.push(m.type() + ': ' + m.text()); });
  page.on('pageerror', (e) => log.errors.push('page error: ' + e.message));
  page.on('request', (r) => log.requests.push(r.url()));
  page.on('requestfailed', (r) => log.errors.push('request failed: ' + r.url()));
  await page.goto(url);
  return { page, log };
}
const waitRefreshes = (page, n, timeout = 30000) =>
  page.waitForFunction((k) => window.vitalsPage && window.vitalsPage.refreshes >= k, n, { timeout });

// Drawn line pixels of a chart canvas: pixels whose colour is saturated (the series colours;
// grid, labels and background are grey).
function coloredPixels(page, id) {
  return page.evaluate((cid) => {
    const c = document.getElementById(cid);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      const max = Math.max(d[i], d[i + 1], d[i + 2]), min = Math.min(d[i], d[i + 1], d[i + 2]);
      if (d[i + 3] > 0 && max - min > 60) n++;
    }
    return n;
  }, id);
}
function assertOnlyOrigin(log, origin) {
  const foreign = log.requests.filter((u) => !u.startsWith(origin + '/'));
  assert.deepEqual(foreign, [], 'the page asked another origin for something');
}

// ---- the cases -----------------------------------------------------------------------------
async function numbers(browser) {
  // tcmalloc's heap figure counts exactly the bytes in use; glibc's also counts what its
  // per-thread caches hold, which drifts up by hundreds of bytes a second for minutes.
  const env = { VITALS_PROFILING: '1', VITALS_SAMPLE_INTERVAL: '1s' };
  if (TCMALLOC) env.LD_PRELOAD = TCMALLOC;
  const demo = await startDemo(env, ['--load-rps=0']);
  try {
    // A known number of requests: 25 to one product (1 miss, then hits), 12 to /flaky (some
    // 500s, at random), 3 that show the N+1 pattern.
    for (let i = 0; i < 25; i++) await get(demo.app + '/products/7');
    for (let i = 0; i < 12; i++) await get(demo.app + '/flaky');
    for (let i = 0; i < 3; i++) await get(demo.app + '/orders/recent/n-plus-one');
    // A lookup by an unindexed column, slow enough (a scan of 50,000 rows) to be explained.
    for (let i = 0; i < 2; i++) await get(demo.app + '/accounts/by-email/a49999@example.com');
    // Three quotes asked one after another (flagged as sequential), two asked all at once.
    for (let i = 0; i < 3; i++) await get(demo.app + '/checkout/quote/sequential');
    for (let i = 0; i < 2; i++) await get(demo.app + '/checkout/quote/parallel');
    // Outbound calls behind circuit breakers, and tasks on a thread pool.
    for (let i = 0; i < 6; i++) await post(demo.app + '/checkout', '{"item":1}');
    await post(demo.app + '/reports?count=2', '');
    await waitFor(async () => metricSum((await get(demo.agent + '/metrics')).body,
      'executor_completed_tasks_total', { name: 'reports' }) === 2);
    // gRPC calls (a demo built with gRPC says so in its banner): eight lookups through the HTTP
    // route that asks the demo's gRPC service. The server records a call when gRPC closes it,
    // just after the client has its answer.
    const grpc = /demo service: grpc: /.test(demo.output());
    const rpcLabels = { rpc_system_name: 'grpc', rpc_method: 'demo.Inventory/GetStock' };
    if (grpc) {
      for (let i = 0; i < 8; i++) await get(demo.app + '/inventory/sku-7');
      await waitFor(async () => metricSum((await get(demo.agent + '/metrics')).body,
        'rpc_server_call_duration_seconds_count', rpcLabels) === 8);
    } else {
      console.log('the demo was built without gRPC: no RPC rows to check');
    }
    const metrics = (await get(demo.agent + '/metrics')).body;
    const count = (route, pred) => metricSum(metrics, 'http_server_request_duration_seconds_count',
      { http_request_method: 'GET', http_route: route }, pred);
    assert.equal(count('/products/:id'), 25);
    assert.equal(count('/flaky'), 12);
    const flaky5xx = count('/flaky', (l) => l.http_response_status_code.startsWith('5'));

    const { page, log } = await openPage(browser, demo.agent + '/?refresh=0.25');
    await waitRefreshes(page, 2);
    const cell = (table, key, field) => page.locator(`#${table} tr[data-key="${key}"] td[data-field="${field}"]`).innerText();
    const num = async (table, key, field) => Number((await cell(table, key, field)).replace(/,/g, ''));
    assert.equal(await num('routes', 'GET /products/:id', 'requests'), 25);
    assert.equal(await num('routes', 'GET /flaky', 'requests'), 12);
    assert.equal(await num('routes', 'GET /flaky', 'errors'), flaky5xx);
    assert.equal(await num('routes', 'GET /orders/recent/n-plus-one', 'requests'), 3);
    if (grpc) {  // RPC methods are listed with the routes, their server errors as errors
      const rpcErrors = metricSum(metrics, 'rpc_server_call_duration_seconds_count', rpcLabels,
        (l) => l.error_type !== '');
      assert.equal(await num('routes', 'grpc demo.Inventory/GetStock', 'requests'), 8);
      assert.equal(await num('routes', 'grpc demo.Inventory/GetStock', 'errors'), rpcErrors);
      assert.equal(await num('routes', 'GET /inventory/:sku', 'requests'), 8);
    }
    // The time split and the sequential calls, as /metrics has them.
    const sequential = (route) => metricSum(metrics, 'vitals_http_server_sequential_calls_total',
      { http_request_method: 'GET', http_route: route });
    // Dependencies and thread pools, as /metrics has them.
    const peers = new Set();
    for (const m of metrics.matchAll(/^http_client_request_duration_seconds_count\{[^}]*server_address="([^"]+)",server_port="(\d+)"/gm)) peers.add(m[1] + ':' + m[2]);
    assert.ok(peers.size >= 2, `peers: ${[...peers]}`);
    for (const peer of peers) {
      const [address, port] = peer.split(':');
      assert.equal(await num('upstreams', peer, 'calls'), metricSum(metrics,
        'http_client_request_duration_seconds_count', { server_address: address, server_port: port }));
    }
    for (const m of metrics.matchAll(/^resilience4j_circuitbreaker_state\{name="([^"]+)",state="([^"]+)"\} 1$/gm)) {
      assert.equal(await cell('breakers', m[1], 'state'), m[2]);
    }
    assert.equal(await page.locator('#breakers tbody tr').count(), 3);
    assert.equal(await num('executors', 'reports', 'completed'), 2);
    assert.equal(await num('executors', 'reports', 'waits'), 2);
    assert.equal(sequential('/checkout/quote/sequential'), 3);
    assert.equal(sequential('/checkout/quote/parallel'), 0);
    assert.equal(await num('routes', 'GET /checkout/quote/sequential', 'sequential'), 3);
    assert.equal(await num('routes', 'GET /checkout/quote/parallel', 'sequential'), 0);
    for (const route of ['/checkout/quote/sequential', '/orders/recent/n-plus-one']) {
      const part = (p) => metricSum(metrics, 'vitals_http_server_request_time_seconds_total',
        { http_request_method: 'GET', http_route: route, part: p });
      const title = await page.locator(`#routes tr[data-key="GET ${route}"] td[data-field="split"]`).getAttribute('title');
      const share = (p) => Number(title.match(new RegExp(p + ' ([0-9.]+) %'))[1]) / 100;
      const total = part('db') + part('outbound') + part('self');
      for (const p of ['db', 'outbound', 'self']) {
        assert.ok(Math.abs(share(p) - part(p) / total) < 0.01, `${route} ${p}: "${title}"`);
      }
      const segments = await page.locator(`#routes tr[data-key="GET ${route}"] td[data-field="split"] b`).count();
      assert.equal(segments, 3);
    }
    assert.ok(metricSum(metrics, 'vitals_http_server_request_time_seconds_total',
      { http_route: '/checkout/quote/sequential', part: 'outbound' }) > 0.009);  // 3 calls of 3 ms
    assert.ok(metricSum(metrics, 'vitals_http_server_request_time_seconds_total',
      { http_route: '/orders/recent/n-plus-one', part: 'db' }) > 0);
    assert.equal(await num('cache-table', 'products', 'hits'),
      metricSum(metrics, 'cache_gets_total', { cache: 'products', result: 'hit' }));
    assert.equal(await num('cache-table', 'products', 'misses'),
      metricSum(metrics, 'cache_gets_total', { cache: 'products', result: 'miss' }));
    assert.equal(await num('cache-table', 'products', 'hits'), 24);
    const nPlusOne = await page.locator('#n-plus-one tbody tr').first().innerText();
    assert.match(nPlusOne, /GET \/orders\/recent\/n-plus-one/);
    assert.match(nPlusOne, /SELECT name FROM users WHERE id = \$1/);
    const statements = await page.locator('#statements tbody').innerText();
    assert.match(statements, /SELECT name FROM users WHERE id = \$1/);
    // The unindexed lookup's plan: its cell names the index candidate; a click shows the plan.
    await page.waitForFunction(() => window.vitalsPage.doc.db_statements.some(
      (s) => s.plan && s.plan.index_candidates.length > 0), null, { timeout: 30000 });
    const planButton = page.locator('#statements button.plan.bad').first();
    await planButton.waitFor({ timeout: 30000 });
    assert.match(await planButton.innerText(), /^index candidate: accounts, 50[,.]?0/);
    await planButton.click();
    await page.locator('#plan').waitFor({ state: 'visible', timeout: 10000 });
    const plan = await page.locator('#plan').innerText();
    assert.match(plan, /^SELECT id, name FROM accounts WHERE email = \$1/);
    assert.match(plan, /SCAN accounts/);
    assert.equal(await page.locator('[data-field="allocator"]').innerText(),
      metrics.match(/vitals_heap_reserved_bytes\{allocator="([^"]+)"\}/)[1]);

    // Threads: the count and the busiest by CPU as /vitals.json has them; the share of a CPU
    // once two looks a second apart exist; every stack on demand, from /debug/pprof/goroutine.
    await page.waitForFunction(() => window.vitalsPage.doc.threads.window_seconds > 0, null, { timeout: 30000 });
    const threads = await page.evaluate(() => window.vitalsPage.doc.threads);
    assert.equal(Number(await page.locator('#thread-count').innerText()), threads.count);
    assert.ok(threads.count >= 5 && threads.busiest.length >= 3, JSON.stringify(threads));
    const top = threads.busiest[0];
    assert.equal(await cell('busy-threads', top.tid, 'name'), top.name);
    assert.match(await cell('busy-threads', top.tid, 'cpu'), /^[0-9]+\.[0-9] %$/);
    await page.click('#stacks-button');
    await page.waitForFunction(() => !document.getElementById('stacks').hidden, null, { timeout: 30000 });
    const stacks = await page.locator('#stacks').innerText();
    assert.match(stacks, new RegExp(`thread ${top.tid} "`));
    assert.match(stacks, /\[futex, sleeping, [0-9.]+ s CPU\]:/);
    assert.match(stacks, /threads: \d+, stacks taken: \d+/);
    assert.match(await page.locator('#stacks-status').innerText(), /^threads: \d+, stacks taken: \d+ · /);

    // Series budget: the table is the document's, largest first, and the document's numbers
    // are the agent's vitals_series and vitals_series_limit.
    const budget = await page.evaluate(() => window.vitalsPage.doc.series_budget);
    assert.ok(budget.length > 10, JSON.stringify(budget));
    assert.equal(await page.locator('#series-budget tbody tr').count(), budget.length);
    const biggest = budget[0];
    assert.ok(budget.every((b) => b.series <= biggest.series));
    assert.equal(await num('series-budget', biggest.metric, 'series'), biggest.series);
    assert.equal(await num('series-budget', biggest.metric, 'limit'), biggest.limit);
    // The outbound-call families expire idle series (a number, 0 so far); the others keep
    // theirs (null in the document, a dash on the page).
    const outbound = budget.find((b) => b.metric === 'http_client_request_duration_seconds');
    assert.ok(outbound && outbound.expired !== null && outbound.expired >= 0, JSON.stringify(outbound));
    assert.equal(await num('series-budget', outbound.metric, 'expired'), outbound.expired);
    const kept = budget.find((b) => b.metric === 'http_server_request_duration_seconds');
    assert.ok(kept && kept.expired === null, JSON.stringify(kept));
    assert.equal(await page.locator(`#series-budget tr[data-key="${kept.metric}"] td[data-field="expired"]`).innerText(), '–');
    const body = (await get(demo.agent + '/metrics')).body;
    assert.equal(metricSum(body, 'vitals_series_limit', { metric: biggest.metric }), biggest.limit);

    // Charts: the history has points once a few intervals have passed; lines are drawn.
    await page.waitForFunction(() => window.vitalsPage.doc && window.vitalsPage.doc.history.times.length >= 4, null, { timeout: 30000 });
    // Lookups in two intervals in a row, so the hit ratio has two points (none without lookups).
    const points = () => page.evaluate(() => window.vitalsPage.doc.history.times.length);
    for (let round = 0; round < 2; round++) {
      const before = await points();
      for (let i = 0; i < 3; i++) await get(demo.app + '/products/7');
      await page.waitForFunction((n) => window.vitalsPage.doc.history.times.length > n, before, { timeout: 30000 });
    }
    await page.waitForFunction(() => window.vitalsPage.charts['chart-hits'] >= 2, null, { timeout: 30000 });
    // Latency is never shown finer than the buckets: a quantile in the lowest one reads
    // "≤ 50 µs" (the history's floor), any other is at least that.
    const floor = await page.evaluate(() => window.vitalsPage.doc.history.quantile_floor_seconds);
    assert.equal(floor, 50e-6);
    for (const key of ['GET /products/:id', 'GET /flaky', 'GET /orders/recent/n-plus-one']) {
      for (const field of ['p50', 'p95', 'p99']) {
        const text = await cell('routes', key, field);
        const m = text.match(/^([0-9.]+) (µs|ms|s)$/);
        assert.ok(text === '≤ 50 µs' || (m && Number(m[1]) * { µs: 1e-6, ms: 1e-3, s: 1 }[m[2]] >= floor),
          `${key} ${field} reads "${text}"`);
      }
    }
    for (const id of ['chart-rate', 'chart-latency', 'chart-memory', 'chart-hits', 'chart-pools']) {
      const points = await page.evaluate((c) => window.vitalsPage.charts[c], id);
      assert.ok(points >= 2, `${id}: ${points} points drawn`);
      assert.ok(await coloredPixels(page, id) > 30, `${id}: no line on the canvas`);
    }

    // Page weight: the document is all there is (no other resource is asked for).
    const html = await get(demo.agent + '/');
    assert.equal(html.status, 200);
    assert.ok(Buffer.byteLength(html.body) <= 150 * 1024, `page is ${Buffer.byteLength(html.body)} bytes`);
    assert.ok(!/(src|href)=["']?(https?:)?\/\//i.test(html.body), 'the page links something elsewhere');

    // Memory: a page left open does not grow the agent's memory. A second page refreshes ten
    // times a second; after a warm-up (allocator caches, buffers reaching their size) the heap
    // must stay within 128 KB over each of two windows of 200 refreshes (a leak of 640 bytes a
    // refresh fails; one document is 10 KB and more), and RSS within 1 MB (the documents grow a
    // little with each history point, up to the window: by hand, 0.2 to 0.4 MB a window, and
    // the heap +9 KB and +41 KB; a heap profile over 600 refreshes showed no growth but noise).
    const heap = async () => metricSum((await get(demo.agent + '/metrics')).body, 'process_heap_bytes');
    const fast = await openPage(browser, demo.agent + '/?refresh=0.1');
    await page.close();  // only the fast page from here on
    // Each reading is taken with the page paused (its refresh selector), so no /vitals.json is
    // being made while the heap is read.
    const marks = [];
    for (let i = 0; i < 3; i++) {
      await waitRefreshes(fast.page, i === 0 ? 100 : marks[i - 1].n + 200, 120000);
      await fast.page.selectOption('#refresh', '0');
      await fast.page.waitForFunction(() => !window.vitalsPage.busy);  // the one in flight ended
      const stopped = await fast.page.evaluate(() => window.vitalsPage.refreshes);
      // process_heap_bytes is the sampler's reading (once a second): one taken while the page
      // still refreshed includes a document being made (its history copy and text, 100 KB and
      // more). The least of the readings over 2.5 s after the pause includes two samples taken
      // with nothing in flight; transient memory can only add to a reading.
      let least = Infinity;
      for (const until = Date.now() + 2500; Date.now() < until;) {
        least = Math.min(least, await heap());
        await new Promise((r) => setTimeout(r, 100));
      }
      marks.push({ n: stopped, rss: rssBytes(demo.proc.pid), heap: least });
      await fast.page.selectOption('#refresh', '0.1');
    }
    console.log('memory while the page refreshes: ' + JSON.stringify(marks));
    for (let i = 1; i < marks.length; i++) {
      const grew = marks[i].heap - marks[i - 1].heap, rss = marks[i].rss - marks[i - 1].rss;
      assert.ok(grew <= 128 * 1024, `heap grew by ${grew} bytes over 200 refreshes`);
      assert.ok(rss <= 1024 * 1024, `RSS grew by ${rss} bytes over 200 refreshes`);
    }
    assertOnlyOrigin(fast.log, demo.agent);
    assert.deepEqual(fast.log.errors, [], 'console errors');

    assert.equal(await fast.page.evaluate(() => window.vitalsPage.failures), 0);
    assertOnlyOrigin(log, demo.agent);
    assert.deepEqual(log.errors, [], 'console errors');
  } finally {
    stopDemo(demo);
  }
}

async function profilingOff(browser) {
  const demo = await startDemo({ VITALS_SAMPLE_INTERVAL: '1s' }, ['--load-rps=20']);
  try {
    const { page, log } = await openPage(browser, demo.agent + '/?refresh=0.5');
    await waitRefreshes(page, 3);
    assert.equal(await page.locator('#profiling-on').isHidden(), true);
    assert.match(await page.locator('#profiling-off').innerText(), /Profiling is off\. Start the service with VITALS_PROFILING=1/);
    assert.equal(await page.locator('#profile-button').isVisible(), false);
    assert.equal(await page.locator('#stacks-button').isDisabled(), true);
    assert.match(await page.locator('#stacks-button').getAttribute('title'), /VITALS_PROFILING=1/);
    // The footer offers no profiling link, and the page asked nothing of /debug/.
    assert.equal(await page.locator('footer a[href^="/debug/"]').count(), 0);
    assert.deepEqual(log.requests.filter((u) => u.includes('/debug/')), []);
    assert.equal(await page.evaluate(() => window.vitalsPage.doc.profiling.enabled), false);
    assertOnlyOrigin(log, demo.agent);
    assert.deepEqual(log.errors, [], 'console errors');
  } finally {
    stopDemo(demo);
  }
}

async function flameGraph(browser) {
  const demo = await startDemo({ VITALS_PROFILING: '1', VITALS_SAMPLE_INTERVAL: '1s' }, ['--load-rps=80']);
  try {
    const { page, log } = await openPage(browser, demo.agent + '/?refresh=1');
    await waitRefreshes(page, 2);
    assert.equal(await page.locator('#profiling-off').isHidden(), true);
    await page.selectOption('#profile-seconds', '5');
    await page.click('#profile-button');
    await page.waitForFunction(() => window.vitalsPage.profiles >= 1, null, { timeout: 60000 });
    const frames = Number(await page.locator('#flame').getAttribute('data-frames'));
    assert.ok(frames > 10, `${frames} frames drawn`);
    const names = await page.evaluate(() => [...window.vitalsPage.flameFunctions]);
    assert.ok(names.includes('demo::CpuHeavyWork'), 'the demo\'s hot function is in the flame graph');
    assert.ok(await coloredPixels(page, 'flame') > 1000, 'the flame graph is drawn');
    // Zoom: a click on a frame below the root redraws from it.
    const box = await page.locator('#flame').boundingBox();
    await page.mouse.click(box.x + 5, box.y + 18 * 3 + 9);
    const zoomed = await page.evaluate(() => window.vitalsPage.flame.path.length);
    assert.ok(zoomed >= 1, 'the click zoomed in');
    await page.mouse.click(box.x + 5, box.y + 9);
    assert.equal(await page.evaluate(() => window.vitalsPage.flame.zoom === window.vitalsPage.flame.root), true);
    // Busy enough for every chart to have a few points.
    await page.waitForFunction(() => window.vitalsPage.doc.history.times.length >= 12, null, { timeout: 60000 });
    await waitRefreshes(page, (await page.evaluate(() => window.vitalsPage.refreshes)) + 1);
    await page.mouse.move(0, 0);  // no tooltip in the picture
    await page.screenshot({ path: `${OUT}/live-page.png`, fullPage: true });
    console.log(`screenshot: ${OUT}/live-page.png`);
    assertOnlyOrigin(log, demo.agent);
    assert.deepEqual(log.errors, [], 'console errors');
  } finally {
    stopDemo(demo);
  }
}

async function autoProfiles(browser) {
  // Every request counts as slow, so a burst comes at once and the agent profiles by itself.
  const demo = await startDemo({
    VITALS_PROFILING: '1', VITALS_AUTO_PROFILE: '1', VITALS_SLOW_REQUEST_THRESHOLD: '1ms',
    VITALS_AUTO_PROFILE_DURATION: '2s', VITALS_SAMPLE_INTERVAL: '1s',
  }, ['--load-rps=80']);
  try {
    const { page, log } = await openPage(browser, demo.agent + '/?refresh=1');
    await page.waitForFunction(() => document.querySelectorAll('#auto tbody button').length >= 1, null, { timeout: 60000 });
    assert.equal(await page.locator('#auto-box').isVisible(), true);
    const row = await page.locator('#auto tbody tr').first().innerText();
    assert.match(row, /slow_requests/);
    await page.locator('#auto tbody button').first().click();
    await page.waitForFunction(() => window.vitalsPage.flame && window.vitalsPage.flame.title.startsWith('automatic profile'), null, { timeout: 30000 });
    assert.ok(Number(await page.locator('#flame').getAttribute('data-frames')) > 5);
    const names = await page.evaluate(() => [...window.vitalsPage.flameFunctions]);
    assert.ok(names.some((n) => n.startsWith('demo::')), 'the demo\'s frames are in the flame graph');
    assertOnlyOrigin(log, demo.agent);
    assert.deepEqual(log.errors, [], 'console errors');
  } finally {
    stopDemo(demo);
  }
}

const CASES = {
  numbers, 'profiling-off': profilingOff, 'flame-graph': flameGraph, 'auto-profiles': autoProfiles,
};
if (!DEMO || !OUT || !CASES[CASE]) {
  console.error('usage: node live_page_test.mjs --demo PATH --out DIR ' + Object.keys(CASES).join('|'));
  process.exit(2);
}
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
let failed = false;
try {
  await CASES[CASE](browser);
  console.log(`${CASE}: passed`);
} catch (e) {
  failed = true;
  console.error(`${CASE}: FAILED\n${e.stack || e}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
