#!/usr/bin/env node
// dynalite, as its own CLI starts it, plus what the local stack needs and dynalite 4.0.0 lacks. Any
// other request is dynalite's. Relies on dynalite's internal module layout, which package-lock.json
// pins (dynalite 4.0.0).
//
// 1. A local-only route for bulk loading:
//
//   POST /_local/put-items   {"TableName": "...", "Items": [<DynamoDB JSON item>, ...]}
//
// Each item goes through dynalite's own PutItem action (key and size validation, per-key lock,
// index maintenance), so the data is exactly what PutItem would store; only the per-request work
// of the DynamoDB API (HTTP, signature and JSON schema validation every 25 items) is skipped. That
// work is most of dynalite's CPU when seeding, and dynalite runs on one core: seeding the demo's
// 360,000 items this way is about twice as fast.
//
// 2. TransactWriteItems, in this server so that every client has it (a Lambda worker process
// reaches it over HTTP like any other). Transactions run one at a time. Each action runs through
// dynalite's own request validation and its PutItem, UpdateItem or DeleteItem (condition, per-key
// lock, index maintenance) with ReturnValues ALL_OLD; a ConditionCheck evaluates its condition the
// same way without writing. If a condition fails, the applied actions are undone (old images put
// back, items that did not exist deleted) and the answer is AWS's TransactionCanceledException,
// with one CancellationReason per action. Every action runs even after a failure, so every failing
// condition is reported, as AWS does. More than 100 actions, or two on one item, are a
// ValidationException as on AWS; so is any malformed action, before anything is applied. An error
// found only while applying (e.g. arithmetic on an attribute the item lacks) undoes the applied
// actions and is answered as it is (AWS reports it as a ValidationError cancellation reason). Not
// isolated from plain writes: a PutItem may see a transaction half applied, or be overwritten by its
// undo. ClientRequestToken idempotency is not implemented.
//
// 3. ReturnValuesOnConditionCheckFailure ALL_OLD, on PutItem, UpdateItem, DeleteItem and in
// transactions: the ConditionalCheckFailedException (or CancellationReason) carries the item the
// condition failed on, as on AWS (the jobs table tells "no such job" from "wrong state" by it).
//
// 4. `--lifeline stdin`: exit when stdin reaches end of file. local/dynamodb_server.py holds the
// only write end of that pipe, so dynalite ends with the Python process that started it, even one
// killed by SIGKILL, which can clean nothing up.
'use strict'

const crypto = require('crypto')
const { lifeline, ...argv } = parseOptions(process.argv.slice(2))
const db = require('dynalite/db')
const validations = require('dynalite/validations')
const actions = {
  putItem: require('dynalite/actions/putItem'),
  updateItem: require('dynalite/actions/updateItem'),
  deleteItem: require('dynalite/actions/deleteItem'),
}
const crc32 = require('buffer-crc32') // dynalite's own dependency, for the checksum botocore verifies
const dynalite = require('dynalite')

const BULK_PATH = '/_local/put-items'
const MAX_BULK_BYTES = 64 * 1024 * 1024
const TRANSACT_TARGET = 'DynamoDB_20120810.TransactWriteItems'
const MAX_REQUEST_BYTES = 16 * 1024 * 1024 // dynalite's own limit for a request
const MAX_TRANSACTION_ACTIONS = 100
const SHUTDOWN_GRACE_MS = 2000
// What each kind of transaction action is run as, and the parameters it passes on (as AWS's
// Put, Update, Delete and ConditionCheck shapes have them).
const EXPRESSION_PARAMETERS = [ 'ConditionExpression', 'ExpressionAttributeNames', 'ExpressionAttributeValues',
  'ReturnValuesOnConditionCheckFailure' ]
const TRANSACTION_ACTIONS = {
  Put: { operation: 'putItem', parameters: [ 'TableName', 'Item', ...EXPRESSION_PARAMETERS ] },
  Update: { operation: 'updateItem', parameters: [ 'TableName', 'Key', 'UpdateExpression', ...EXPRESSION_PARAMETERS ] },
  Delete: { operation: 'deleteItem', parameters: [ 'TableName', 'Key', ...EXPRESSION_PARAMETERS ] },
  ConditionCheck: { operation: 'deleteItem', parameters: [ 'TableName', 'Key', ...EXPRESSION_PARAMETERS ] },
}

// dynalite's request schemas drop parameters they do not know: teach the three writes this one
// (validated as AWS does: ALL_OLD or NONE).
for (const operation of Object.keys(actions)) {
  require(`dynalite/validations/${operation}`).types.ReturnValuesOnConditionCheckFailure = {
    type: 'String',
    enum: [ 'ALL_OLD', 'NONE' ],
  }
}

// The actions evaluate conditions here, under the item's lock: the item a failed condition saw is
// the one AWS returns.
const checkConditional = db.checkConditional
db.checkConditional = function (data, existingItem) {
  const invalid = checkConditional(data, existingItem)
  if (invalid && existingItem && data.ReturnValuesOnConditionCheckFailure === 'ALL_OLD')
    invalid.body.Item = existingItem
  return invalid
}

// dynalite creates its store inside dynalite(); keep a handle on it for the routes added here.
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
  if (req.method === 'POST' && req.headers['x-amz-target'] === TRANSACT_TARGET) return transactWriteItems(req, res)
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

// The request's body, or null once it is longer than maxBytes (the rest is read and dropped).
function readBody (req, maxBytes, cb) {
  const chunks = []
  let size = 0
  req.on('data', (chunk) => {
    size += chunk.length
    if (size <= maxBytes) chunks.push(chunk)
  })
  req.on('end', () => cb(size > maxBytes ? null : Buffer.concat(chunks)))
}

function bulkPut (req, res) {
  readBody(req, MAX_BULK_BYTES, (body) => {
    if (body === null) return answer(res, 413, { message: `more than ${MAX_BULK_BYTES} bytes` })
    let request
    try {
      request = JSON.parse(body.toString('utf8'))
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
    actions.putItem(view, { TableName, Item }, (err) => {
      if (err) errors.push(err.body ? err.body.message : String(err.message || err))
      if (--pending > 0) return
      if (errors.length) return answer(res, 400, { message: errors[0], Failed: errors.length })
      answer(res, 200, { Written: items.length })
    })
  }
}

// --- TransactWriteItems -------------------------------------------------------------------------

// As dynalite's own answers are sent: botocore checks x-amz-crc32 when it is there.
function answerDynamo (req, res, status, body) {
  const json = JSON.stringify(body)
  const contentType = (req.headers['content-type'] || '').split(';')[0].trim()
  res.statusCode = status
  res.setHeader('x-amzn-RequestId', crypto.randomBytes(39).toString('base64').toUpperCase().replace(/\+|\//g, '0'))
  res.setHeader('x-amz-crc32', crc32.unsigned(json))
  res.setHeader('Content-Type', contentType === 'application/x-amz-json-1.0' ? contentType : 'application/json')
  res.setHeader('Content-Length', Buffer.byteLength(json, 'utf8'))
  res.end(json)
}

function transactWriteItems (req, res) {
  readBody(req, MAX_REQUEST_BYTES, (body) => {
    if (body === null) {
      res.statusCode = 413
      return res.end()
    }
    let request
    try {
      request = JSON.parse(body.toString('utf8'))
    }
    catch {
      return answerDynamo(req, res, 400, { __type: 'com.amazon.coral.service#SerializationException' })
    }
    serialised(() => transact(request)).then(
      (result) => answerDynamo(req, res, 200, result),
      (err) => {
        if (err && err.statusCode) return answerDynamo(req, res, err.statusCode, err.body)
        console.error('TransactWriteItems failed:', err)
        answerDynamo(req, res, 500, {
          __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
          message: String((err && err.message) || err),
        })
      })
  })
}

// One transaction at a time: none sees another half applied, nor undoes over another's writes.
let lastTransaction = Promise.resolve()
function serialised (task) {
  const result = lastTransaction.then(task)
  lastTransaction = result.catch(() => {})
  return result
}

async function transact (request) {
  const prepared = await prepare(request && request.TransactItems)
  const undo = []
  const reasons = []
  for (const action of prepared) {
    try {
      await apply(action, undo)
      reasons.push({ Code: 'None' })
    }
    catch (err) {
      if (!isConditionFailure(err)) {
        await rollback(undo)
        throw err
      }
      const reason = { Code: 'ConditionalCheckFailed', Message: err.body.message }
      if (err.body.Item) reason.Item = err.body.Item
      reasons.push(reason)
    }
  }
  if (reasons.every((reason) => reason.Code === 'None')) return {}
  await rollback(undo)
  const codes = reasons.map((reason) => reason.Code).join(', ')
  throw dynamoError('TransactionCanceledException', {
    CancellationReasons: reasons,
    Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes}]`,
  })
}

// Every action validated, its table found and its item known before any is applied, as AWS
// refuses a malformed transaction whole.
async function prepare (items) {
  if (!Array.isArray(items) || items.length === 0) {
    throw db.validationError('1 validation error detected: Value at \'transactItems\' failed to satisfy ' +
      'constraint: Member must have length greater than or equal to 1')
  }
  if (items.length > MAX_TRANSACTION_ACTIONS) {
    throw db.validationError('1 validation error detected: Value at \'transactItems\' failed to satisfy ' +
      `constraint: Member must have length less than or equal to ${MAX_TRANSACTION_ACTIONS}`)
  }
  const targets = new Set()
  const prepared = []
  for (const item of items) {
    const kinds = item !== null && typeof item === 'object' ? Object.keys(item) : []
    const action = TRANSACTION_ACTIONS[kinds[0]]
    if (kinds.length !== 1 || !action || item[kinds[0]] === null || typeof item[kinds[0]] !== 'object')
      throw db.validationError('TransactItems can only contain one of Check, Put, Update or Delete')
    const kind = kinds[0]
    const params = {}
    for (const name of action.parameters) if (item[kind][name] !== undefined) params[name] = item[kind][name]
    if (kind === 'ConditionCheck' && typeof params.ConditionExpression !== 'string')
      throw db.validationError('ConditionCheck requires a ConditionExpression')
    if (kind !== 'ConditionCheck') params.ReturnValues = 'ALL_OLD' // the undo's old image
    const data = validated(action.operation, params)
    const table = await call(store.getTable, data.TableName, false)
    const keyed = kind === 'Put' ? data.Item : data.Key
    const invalid = kind === 'Put' ? db.validateItem(keyed, table) : db.validateKey(keyed, table)
    if (invalid) throw invalid
    const target = `${data.TableName}\u0000${db.createKey(keyed, table)}`
    if (targets.has(target))
      throw db.validationError('Transaction request cannot include multiple operations on one item')
    targets.add(target)
    const Key = {}
    for (const { AttributeName } of table.KeySchema) Key[AttributeName] = keyed[AttributeName]
    prepared.push({ kind, operation: action.operation, data, Key })
  }
  return prepared
}

// The parameters as dynalite's HTTP handler would pass them to the action (types checked,
// expressions parsed); throws its ValidationException or SerializationException.
function validated (operation, params) {
  const { types, custom } = require(`dynalite/validations/${operation}`)
  const data = validations.checkTypes(params, types)
  validations.checkValidations(data, types, custom, store)
  return data
}

// Runs one action; records how to undo it.
async function apply ({ kind, operation, data, Key }, undo) {
  if (kind === 'ConditionCheck') return conditionCheck(data)
  const old = (await call(actions[operation], store, data)).Attributes
  if (kind !== 'Delete' || old) undo.push({ TableName: data.TableName, Key, old })
}

// As DeleteItem checks its condition, without the delete.
async function conditionCheck (data) {
  const table = await call(store.getTable, data.TableName, false)
  const invalid = db.validateKey(data.Key, table)
  if (invalid) throw invalid
  let item
  try {
    item = await call(store.getItemDb(data.TableName).get, db.createKey(data.Key, table))
  }
  catch (err) {
    if (err.name !== 'NotFoundError') throw err
  }
  const failed = db.checkConditional(data, item)
  if (failed) throw failed
}

async function rollback (undo) {
  for (const { TableName, Key, old } of undo.reverse()) {
    try {
      if (old) await call(actions.putItem, store, { TableName, Item: old })
      else await call(actions.deleteItem, store, { TableName, Key })
    }
    catch (err) {
      // Keep undoing the others; the transaction's own answer still goes back.
      console.error('TransactWriteItems: could not undo an action on %s: %s', TableName, err.message || err)
    }
  }
  undo.length = 0
}

function isConditionFailure (err) {
  return Boolean(err && err.body && /#ConditionalCheckFailedException$/.test(err.body.__type))
}

function dynamoError (code, body) {
  const err = new Error(code)
  err.statusCode = 400
  err.body = { __type: `com.amazonaws.dynamodb.v20120810#${code}`, ...body }
  return err
}

// fn(...args, cb) as a promise.
function call (fn, ...args) {
  return new Promise((resolve, reject) => {
    fn(...args, (err, result) => (err ? reject(err) : resolve(result)))
  })
}

// --- life cycle ----------------------------------------------------------------------------------

server.listen(argv.port || 4567, argv.host || undefined, () => {
  const address = server.address()
  console.log('Dynalite listening at: http://%s:%s', argv.host || 'localhost', address.port)
})

// Exit normally (node's exit hooks run, e.g. --cpu-prof's writer), but within SHUTDOWN_GRACE_MS even
// if a client keeps a request open.
let stopping = false
function shutdown () {
  if (stopping) return
  stopping = true
  server.close(() => process.exit(0))
  setTimeout(() => process.exit(0), SHUTDOWN_GRACE_MS).unref()
}

process.on('SIGTERM', shutdown) // the stack's stop()
if (lifeline === 'stdin') {
  process.stdin.on('end', shutdown) // the parent closed its end, or died
  process.stdin.on('error', shutdown)
  process.stdin.resume() // read (and drop) whatever comes, or 'end' never fires
}
