// SDK compatibility test: Elastic Path's official JavaScript SDK (@elasticpath/js-sdk) against
// this project's API, configured with nothing but a host and an application key.
//
//   cd tests/sdk && npm ci --no-audit --no-fund
//   BASE_HOST=127.0.0.1:3000 CLIENT_ID=... CLIENT_SECRET=... node --test export.test.mjs
//
// BASE_HOST is "host[:port]" of a server that answers at the root path (/oauth/access_token,
// /pcm/...), e.g. `make serve`. The SDK builds URLs as `${protocol}://${host}/${uri}`, so a path
// prefix also works: BASE_HOST=<api>.execute-api.<region>.amazonaws.com/v1 (then set
// BASE_PROTOCOL=https).
//
// Notes on the SDK (35.x, dist/index.cjs.js) that shape this test:
// - ExportProducts(filter) takes a filter OBJECT ({eq: {status: 'live'}} -> "eq(status,live)");
//   a string is iterated character by character into garbage (see the last test).
// - Every rejection is the parsed JSON error body (not an Error, no HTTP status), e.g.
//   {errors: [{status: '401', ...}]}.
// - In Node 20 the default token storage is node-localstorage in ./localStorage (relative to the
//   working directory), keyed by client_id only. The main flow therefore runs in a fresh temporary
//   working directory so no token from another run or server is reused; the 401 cases use their
//   own MemoryStorageFactory so they cannot pick up the valid token.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { gateway, MemoryStorageFactory } from '@elasticpath/js-sdk';

const BASE_HOST = process.env.BASE_HOST;
const CLIENT_ID = process.env.CLIENT_ID;
const CLIENT_SECRET = process.env.CLIENT_SECRET;
const PROTOCOL = process.env.BASE_PROTOCOL || 'http';
const EXPORT_TIMEOUT_MS = Number(process.env.EXPORT_TIMEOUT_MS || 180_000);
const POLL_INTERVAL_MS = Number(process.env.POLL_INTERVAL_MS || 500);

const CONTRACT_COLUMNS = [
  'id', 'external_ref', 'name', 'description', 'slug', 'status', 'commodity_type', 'upc_ean', 'mpn',
  'sku', 'tags', 'main_image_id', '_created_at', '_updated_at',
];
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const FINAL = new Set(['success', 'failed', 'cancelled']);

// A tag unique to this run: the store may already hold products from earlier runs.
const RUN = `sdk${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

function productBodies() {
  return [
    {
      key: 'punctuation',
      attributes: {
        name: 'Trail shoe, "Deluxe" edition',
        description: 'First line\r\nSecond line, with a comma and "quotes"\nThird line',
        sku: `${RUN}-punct,"1"`,
        external_ref: `${RUN}/ext,"quoted"`,
        status: 'live',
        commodity_type: 'physical',
        mpn: 'MPN-1',
        upc_ean: '0123456789012',
        tags: [RUN, 'sale', 'summer'],
      },
    },
    {
      key: 'unicode',
      attributes: {
        name: 'Café Ünïcødé 日本語 🚀',
        description: 'Ελληνικά — “curly” ‘quotes’ and emoji 🧦',
        sku: `${RUN}-unicode-é`,
        status: 'live',
        commodity_type: 'digital',
        tags: [RUN, 'ünï'],
      },
    },
    {
      key: 'template',
      attributes: {
        name: 'Jacket with specs',
        sku: `${RUN}-specs`,
        status: 'live',
        commodity_type: 'physical',
        tags: [RUN],
        extensions: {
          'products(specs)': { color: 'red, "crimson"', weight: 4.5, size: 42, waterproof: true },
        },
      },
    },
    {
      key: 'minimal',
      attributes: {
        name: 'Minimal',
        sku: `${RUN}-minimal`,
        status: 'live',
        commodity_type: 'physical',
        tags: [RUN],
      },
    },
    {
      key: 'draft',
      attributes: {
        name: 'Draft, never exported',
        sku: `${RUN}-draft`,
        status: 'draft',
        commodity_type: 'physical',
        tags: [RUN],
      },
    },
  ];
}

// --- helpers ------------------------------------------------------------------------------------

/** RFC 4180 parser: quoted fields may hold commas, doubled quotes, CR and LF. */
function parseCsv(text) {
  const rows = [];
  const endings = new Set();
  let row = [];
  let field = '';
  let quoted = false; // inside a quoted field
  let closed = false; // just after a quoted field's closing quote
  let i = 0;
  const endRow = () => {
    row.push(field);
    rows.push(row);
    row = [];
    field = '';
    closed = false;
  };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        closed = true;
        i += 1;
        continue;
      }
      field += c;
      i += 1;
      continue;
    }
    if (c === ',') {
      row.push(field);
      field = '';
      closed = false;
      i += 1;
      continue;
    }
    if (c === '\r' && text[i + 1] === '\n') {
      endings.add('CRLF');
      endRow();
      i += 2;
      continue;
    }
    if (c === '\n') {
      endings.add('LF');
      endRow();
      i += 1;
      continue;
    }
    if (closed) throw new Error(`CSV: text after a closing quote at offset ${i}`);
    if (c === '"') {
      if (field !== '') throw new Error(`CSV: quote inside an unquoted field at offset ${i}`);
      quoted = true;
      i += 1;
      continue;
    }
    if (c === '\r') throw new Error(`CSV: bare CR outside quotes at offset ${i}`);
    field += c;
    i += 1;
  }
  if (quoted) throw new Error('CSV: unterminated quoted field');
  if (field !== '' || row.length > 0 || closed) endRow();
  return { rows, endings };
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The first JSON:API error of an SDK rejection (the SDK rejects with the parsed error body). */
function firstError(rejection) {
  assert.equal(typeof rejection, 'object', `expected a JSON error document, got ${JSON.stringify(rejection)}`);
  assert.ok(Array.isArray(rejection?.errors) && rejection.errors.length > 0, JSON.stringify(rejection));
  return rejection.errors[0];
}

/** A fetch that records what the SDK asks for (passed as the SDK's custom_fetch option). */
function recordingFetch(calls) {
  return async (url, options = {}) => {
    const response = await fetch(url, options);
    const { pathname } = new URL(url);
    calls.push({ method: options.method, path: pathname, status: response.status });
    return response;
  };
}

// --- state shared by the ordered tests ----------------------------------------------------------

let workdir;
let previousCwd;
let ep;
const created = new Map(); // key -> {body, resource}
let job;

before(() => {
  assert.ok(BASE_HOST, 'set BASE_HOST (e.g. 127.0.0.1:3000) to the server under test');
  assert.ok(CLIENT_ID && CLIENT_SECRET, 'set CLIENT_ID and CLIENT_SECRET to an application key of that server');
  // The SDK's default storage (node-localstorage) writes ./localStorage: keep it out of the repo and
  // start without tokens left by another run.
  previousCwd = process.cwd();
  workdir = mkdtempSync(join(tmpdir(), 'ep-sdk-'));
  process.chdir(workdir);
  // Exactly what an EP client changes: the host (and plain http for the local server).
  ep = gateway({ host: BASE_HOST, protocol: PROTOCOL, client_id: CLIENT_ID, client_secret: CLIENT_SECRET });
});

after(() => {
  if (previousCwd) process.chdir(previousCwd);
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

// --- the flow -----------------------------------------------------------------------------------

test('authenticates with client_credentials (flat token answer)', async () => {
  const token = await ep.Authenticate();
  assert.equal(typeof token.access_token, 'string');
  assert.ok(token.access_token.length > 0);
  assert.equal(token.token_type, 'Bearer');
  assert.equal(token.identifier, 'client_credentials');
  assert.equal(token.expires_in, 3600);
  // The SDK decides whether to re-authenticate by comparing `expires` (epoch seconds) with the clock.
  assert.equal(typeof token.expires, 'number');
  const now = Math.floor(Date.now() / 1000);
  assert.ok(token.expires > now && token.expires <= now + 3600 + 120, `expires ${token.expires} vs now ${now}`);
  const stored = ep.credentials();
  assert.equal(stored.access_token, token.access_token);
  assert.equal(stored.client_id, CLIENT_ID);
  assert.equal(ep.tokenInvalid(), false);
});

test('creates products with PCM.Create', async () => {
  for (const { key, attributes } of productBodies()) {
    const answer = await ep.PCM.Create({ type: 'product', attributes });
    const resource = answer.data;
    assert.equal(resource.type, 'product', key);
    assert.match(resource.id, /^[0-9a-f-]{36}$/, key);
    for (const field of ['name', 'description', 'sku', 'external_ref', 'status', 'commodity_type', 'mpn', 'upc_ean']) {
      assert.equal(resource.attributes[field], attributes[field], `${key}.${field}`);
    }
    assert.deepEqual(resource.attributes.tags, attributes.tags, `${key}.tags`);
    if (attributes.extensions) assert.deepEqual(resource.attributes.extensions, attributes.extensions, `${key}.extensions`);
    assert.match(resource.meta.created_at, TIMESTAMP, key);
    assert.match(resource.meta.updated_at, TIMESTAMP, key);
    assert.deepEqual(resource.meta.product_types, ['standard'], key);
    created.set(key, { attributes, resource });
  }
  assert.equal(created.size, 5);
});

test('starts an export with PCM.ExportProducts({eq: {status: "live"}})', async () => {
  assert.equal(created.size, 5, 'products were not created');
  // The SDK sends POST /pcm/products/export?filter=eq(status,live) with no body.
  const answer = await ep.PCM.ExportProducts({ eq: { status: 'live' } });
  job = answer.data;
  assert.equal(job.type, 'pim-job');
  assert.equal(typeof job.id, 'string');
  assert.equal(job.attributes.type, 'product-export');
  assert.ok(['pending', 'started', 'success'].includes(job.attributes.status), job.attributes.status);
  assert.match(job.attributes.created_at, TIMESTAMP);
  assert.match(job.attributes.updated_at, TIMESTAMP);
  assert.ok('file_locations' in job.meta);
  assert.equal(typeof job.meta.filter, 'string');
  assert.match(job.meta.filter, /status/);
});

test('polls PCM.Jobs.Get until the export succeeds', async () => {
  assert.ok(job, 'no export job');
  const deadline = Date.now() + EXPORT_TIMEOUT_MS;
  let current = job;
  while (!FINAL.has(current.attributes.status)) {
    assert.ok(Date.now() < deadline, `job ${job.id} still ${current.attributes.status} after ${EXPORT_TIMEOUT_MS} ms`);
    assert.equal(current.meta.file_locations, null, 'file_locations must be null until the export succeeds');
    await sleep(POLL_INTERVAL_MS);
    current = (await ep.PCM.Jobs.Get(job.id)).data;
    assert.equal(current.id, job.id);
  }
  assert.equal(current.attributes.status, 'success', JSON.stringify(current));
  assert.match(current.attributes.started_at, TIMESTAMP);
  assert.match(current.attributes.completed_at, TIMESTAMP);
  assert.ok(Array.isArray(current.meta.file_locations) && current.meta.file_locations.length > 0,
    JSON.stringify(current.meta));
  job = current;
});

test('lists jobs with PCM.Jobs.All (and page[limit] via Limit)', async () => {
  assert.equal(job?.attributes.status, 'success', 'no finished export');
  const all = await ep.PCM.Jobs.All();
  assert.ok(Array.isArray(all.data));
  const listed = all.data.find((entry) => entry.id === job.id);
  assert.ok(listed, `job ${job.id} is not in the first page of GET /pcm/jobs`);
  assert.equal(listed.type, 'pim-job');
  assert.equal(listed.attributes.status, 'success');
  assert.ok(all.meta.results.total >= 1);
  // Newest first: nothing else was exported by this store since, so our job leads the list.
  assert.equal(all.data[0].id, job.id);

  // Limit(n) makes the SDK send page[limit]=n (Offset(0) is dropped by the SDK).
  const one = await ep.PCM.Jobs.Limit(1).All();
  assert.equal(one.data.length, 1);
  assert.equal(one.data[0].id, job.id);
  assert.equal(one.meta.results.total, all.meta.results.total);
});

test('reads the job errors with PCM.Jobs.GetJobErrors (none for a successful export)', async () => {
  assert.ok(job, 'no export job');
  const errors = await ep.PCM.Jobs.GetJobErrors(job.id);
  assert.ok(Array.isArray(errors.data), JSON.stringify(errors));
  assert.equal(errors.data.length, 0, JSON.stringify(errors.data));
});

test('downloads every file_locations part: exactly the live products of this run', async () => {
  assert.equal(job?.attributes.status, 'success', 'no finished export');
  let header;
  const rows = [];
  for (const [index, url] of job.meta.file_locations.entries()) {
    const response = await fetch(url);
    assert.equal(response.status, 200, `part ${index + 1}: HTTP ${response.status} from ${url}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    assert.notEqual(text.charCodeAt(0), 0xfeff, `part ${index + 1} starts with a BOM`);
    const { rows: parsed, endings } = parseCsv(text);
    assert.ok(endings.size <= 1, `part ${index + 1} mixes line endings: ${[...endings]}`);
    assert.ok(parsed.length >= 1, `part ${index + 1} has no header`);
    const [partHeader, ...body] = parsed;
    if (header === undefined) header = partHeader;
    assert.deepEqual(partHeader, header, `part ${index + 1} header differs from part 1`);
    for (const row of body) {
      assert.equal(row.length, header.length, `part ${index + 1}: row of ${row.length} cells, header has ${header.length}`);
      rows.push(Object.fromEntries(header.map((name, column) => [name, row[column]])));
    }
  }
  assert.deepEqual(header.slice(0, CONTRACT_COLUMNS.length), CONTRACT_COLUMNS);

  // Every exported row is live, and no product appears twice.
  const ids = rows.map((row) => row.id);
  assert.equal(new Set(ids).size, ids.length, 'a product appears in more than one row');
  for (const row of rows) assert.equal(row.status, 'live', `row ${row.id} is ${row.status}`);

  // This run's rows (tagged RUN) are exactly the live products created, by id.
  const ours = rows.filter((row) => row.tags.split(',').includes(RUN));
  const wanted = [...created.values()].filter(({ attributes }) => attributes.status === 'live');
  assert.deepEqual(
    ours.map((row) => row.id).sort(),
    wanted.map(({ resource }) => resource.id).sort(),
  );
  const draft = created.get('draft').resource.id;
  assert.ok(!ids.includes(draft), 'the draft product was exported');

  // Round trip: each cell is what was created.
  const byId = new Map(ours.map((row) => [row.id, row]));
  for (const { attributes, resource } of wanted) {
    const row = byId.get(resource.id);
    for (const field of ['name', 'description', 'slug', 'sku', 'external_ref', 'status', 'commodity_type', 'upc_ean', 'mpn']) {
      assert.equal(row[field], attributes[field] ?? '', `${resource.id} ${field}`);
    }
    assert.deepEqual(row.tags.split(',').sort(), [...attributes.tags].sort(), `${resource.id} tags`);
    assert.equal(row.main_image_id, '');
    assert.equal(row._created_at, resource.meta.created_at);
    assert.equal(row._updated_at, resource.meta.updated_at);
  }

  // The template extension products(specs): columns template:<template id>:<field> (ids by default).
  const specs = created.get('template');
  const row = byId.get(specs.resource.id);
  const column = (field) => {
    const found = header.filter((name) => name.startsWith('template:') && name.endsWith(`:${field}`));
    assert.equal(found.length, 1, `one template column for ${field}, got ${JSON.stringify(found)}`);
    return found[0];
  };
  assert.equal(row[column('color')], 'red, "crimson"');
  assert.equal(row[column('weight')], '4.5');
  assert.equal(row[column('size')], '42');
  assert.equal(row[column('waterproof')], 'true');
  const template = column('color').split(':')[1];
  assert.match(row[`template:${template}:created_at`], TIMESTAMP);
  assert.match(row[`template:${template}:updated_at`], TIMESTAMP);
  // Products without the template leave its cells empty.
  assert.equal(byId.get(created.get('minimal').resource.id)[column('color')], '');
});

// --- errors as the SDK sees them ----------------------------------------------------------------

test('an unknown job is a 404 JSON:API error document', async () => {
  const rejection = await ep.PCM.Jobs.Get('00000000-0000-7000-8000-000000000000').then(
    (answer) => assert.fail(`expected a 404, got ${JSON.stringify(answer)}`),
    (error) => error,
  );
  assert.equal(firstError(rejection).status, '404');
});

test('an invalid filter is a 400 JSON:API error document', async () => {
  const rejection = await ep.PCM.ExportProducts({ eq: { no_such_field: 'x' } }).then(
    (answer) => assert.fail(`expected a 400, got ${JSON.stringify(answer)}`),
    (error) => error,
  );
  const error = firstError(rejection);
  assert.equal(error.status, '400');
  assert.match(error.detail, /filter/i);
});

test('a string filter is not what the SDK expects: it is spelled out character by character', async () => {
  // ExportProducts('eq(status,live)') sends filter=0(0,e):1(0,q):2(0,():... which the API refuses.
  const calls = [];
  const probe = gateway({
    host: BASE_HOST,
    protocol: PROTOCOL,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    storage: new MemoryStorageFactory(),
    custom_fetch: recordingFetch(calls),
  });
  const rejection = await probe.PCM.ExportProducts('eq(status,live)').then(
    (answer) => assert.fail(`expected a 400, got ${JSON.stringify(answer)}`),
    (error) => error,
  );
  assert.equal(firstError(rejection).status, '400');
  assert.deepEqual(calls.map(({ method, path, status }) => [method, path, status]), [
    ['POST', '/oauth/access_token', 200],
    ['POST', '/pcm/products/export', 400],
  ]);
});

test('a wrong client_secret: the SDK rejects with the 401 error document and calls nothing else', async () => {
  const calls = [];
  const wrong = gateway({
    host: BASE_HOST,
    protocol: PROTOCOL,
    client_id: CLIENT_ID,
    client_secret: `${CLIENT_SECRET}-wrong`,
    // Own storage: the default one is shared by client_id and would hold the valid token.
    storage: new MemoryStorageFactory(),
    custom_fetch: recordingFetch(calls),
  });
  const rejection = await wrong.PCM.Jobs.All().then(
    (answer) => assert.fail(`expected a 401, got ${JSON.stringify(answer)}`),
    (error) => error,
  );
  assert.equal(firstError(rejection).status, '401');
  assert.deepEqual(calls.map(({ method, path, status }) => [method, path, status]), [
    ['POST', '/oauth/access_token', 401],
  ]);
});

test('a rejected token (401 on /pcm) makes the SDK re-authenticate and retry', async () => {
  const calls = [];
  const storage = new MemoryStorageFactory();
  // A token the server never issued, not expired by the SDK's own clock.
  storage.set('epCredentials', JSON.stringify({
    client_id: CLIENT_ID,
    access_token: 'forged.token.value',
    expires: Math.floor(Date.now() / 1000) + 3600,
    expires_in: 3600,
    identifier: 'client_credentials',
    token_type: 'Bearer',
  }));
  const stale = gateway({
    host: BASE_HOST,
    protocol: PROTOCOL,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    storage,
    custom_fetch: recordingFetch(calls),
  });
  const answer = await stale.PCM.Jobs.All();
  assert.ok(Array.isArray(answer.data));
  assert.deepEqual(calls.map(({ method, path, status }) => [method, path, status]), [
    ['GET', '/pcm/jobs', 401],
    ['POST', '/oauth/access_token', 200],
    ['GET', '/pcm/jobs', 200],
  ]);
  assert.notEqual(stale.credentials().access_token, 'forged.token.value');
});
