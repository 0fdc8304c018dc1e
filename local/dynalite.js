#!/usr/bin/env node
// dynalite, as its own CLI starts it, plus one local-only route for bulk loading:
//
//   POST /_local/put-items   {"TableName": "...", "Items": [<DynamoDB JSON item>, ...]}
//
// Each item goes through dynalite's own PutItem action (key and size validation, per-key lock,
// index maintenance), so the data is exactly what PutItem would store; only the per-request work
// of the DynamoDB API (HTTP, signature and JSON schema validation every 25 items) is skipped. That
// work is most of dynalite's CPU when seeding, and dynalite runs on one core: seeding the demo's
// 360,000 items this way is about twice as fast. Relies on dynalite's internal module layout,
// which package-lock.json pins (dynalite 4.0.0). Any other request is dynalite's.
'use strict'

const argv = parseOptions(process.argv.slice(2))
const db = require('dynalite/db')
const putItem = require('dynalite/actions/putItem')
const dynalite = require('dynalite')

const BULK_PATH = '/_local/put-items'
const MAX_BULK_BYTES = 64 * 1024 * 1024

// dynalite creates its store inside dynalite(); keep a handle on it for the bulk route.
let store = null
const createStore = db.create
db.create = function (options) {
  store = createStore(options)
  return store
}

const server = dynalite(argv)
const [dynamoHandler] = server.listeners('request')
server.removeAllListeners('request')
server.on('request', (req, res) => {
  if (req.method === 'POST' && req.url === BULK_PATH) return bulkPut(req, res)
  return dynamoHandler(req, res)
})

// `--name value` pairs, numbers as numbers (as dynalite's CLI passes them).
function parseOptions (args) {
  const options = {}
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i].replace(/^--/, '')
    const value = args[i + 1]
    options[name] = value !== undefined && /^\d+$/.test(value) ? Number(value) : value
  }
  return options
}

function answer (res, status, body) {
  res.statusCode = status
  res.setHeader('Content-Type', 'application/json')
  res.end(JSON.stringify(body))
}

function bulkPut (req, res) {
  const chunks = []
  let size = 0
  req.on('data', (chunk) => {
    size += chunk.length
    if (size <= MAX_BULK_BYTES) chunks.push(chunk)
  })
  req.on('end', () => {
    if (size > MAX_BULK_BYTES) return answer(res, 413, { message: `more than ${MAX_BULK_BYTES} bytes` })
    let request
    try {
      request = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    }
    catch (err) {
      return answer(res, 400, { message: `not JSON: ${err.message}` })
    }
    const items = request && request.Items
    if (typeof request.TableName !== 'string' || !Array.isArray(items))
      return answer(res, 400, { message: 'expected {"TableName": string, "Items": [item, ...]}' })
    if (items.length === 0) return answer(res, 200, { Written: 0 })
    store.getTable(request.TableName, true, (err, table) => {
      if (err) return answer(res, 400, { message: err.body ? err.body.message : String(err.message || err) })
      putAll(withTable(store, table), request.TableName, items, res)
    })
  })
}

// The store as PutItem sees it, with the table's description read once per request rather than
// decoded from dynalite's table store for every item (a tenth of its CPU when seeding).
function withTable (store, table) {
  const view = Object.create(store)
  view.getTable = (name, checkStatus, cb) => {
    if (typeof checkStatus === 'function') cb = checkStatus
    if (name !== table.TableName) return store.getTable(name, checkStatus, cb)
    process.nextTick(cb, null, table)
  }
  return view
}

function putAll (view, TableName, items, res) {
  let pending = items.length
  const errors = []
  for (const Item of items) {
    putItem(view, { TableName, Item }, (err) => {
      if (err) errors.push(err.body ? err.body.message : String(err.message || err))
      if (--pending > 0) return
      if (errors.length) return answer(res, 400, { message: errors[0], Failed: errors.length })
      answer(res, 200, { Written: items.length })
    })
  }
}

server.listen(argv.port || 4567, argv.host || undefined, () => {
  const address = server.address()
  console.log('Dynalite listening at: http://%s:%s', argv.host || 'localhost', address.port)
})

// Exit normally on SIGTERM (the stack's stop): node's exit hooks run, e.g. --cpu-prof's writer.
process.on('SIGTERM', () => server.close(() => process.exit(0)))
