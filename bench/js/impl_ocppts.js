// The JavaScript peer: ocpp-ts 0.3.0 (npm), on both ends, under the harness's contract
// (see bench/benchlib.py): `server` prints "PORT <n>" and serves until its standard input
// closes; `client --port P --calls N --warmup W` prints one "RESULT {json}" line.
//
// ocpp-ts's OcppServer.listen(port) binds every interface; the benchmark must stay on
// loopback, so http.createServer is wrapped to bind 127.0.0.1 (and to learn the port of
// `listen(0)`). Nothing else of ocpp-ts is touched.
'use strict';

const http = require('http');
const { performance } = require('perf_hooks');
const { OcppServer, OcppClient } = require('ocpp-ts');

const HOST = '127.0.0.1';
const NOW = '2024-05-01T12:00:00Z';
const BOOT_REQUEST = { chargePointVendor: 'BenchVendor', chargePointModel: 'BenchModel' };
const RESPONSES = {
  BootNotification: { status: 'Accepted', interval: 300, currentTime: NOW },
  Heartbeat: { currentTime: NOW },
};

function parseArgs(argv) {
  const args = { role: argv[0], delay: 0, noPing: false, lifetime: 900, calls: 2000, warmup: 100 };
  for (let i = 1; i < argv.length; i += 1) {
    const name = argv[i];
    if (name === '--no-ping') args.noPing = true;
    else if (name === '--delay') args.delay = Number(argv[(i += 1)]);
    else if (name === '--lifetime') args.lifetime = Number(argv[(i += 1)]);
    else if (name === '--port') args.port = Number(argv[(i += 1)]);
    else if (name === '--calls') args.calls = Number(argv[(i += 1)]);
    else if (name === '--warmup') args.warmup = Number(argv[(i += 1)]);
    else throw new Error(`unknown argument ${name}`);
  }
  if (args.role !== 'server' && args.role !== 'client') throw new Error('server or client');
  return args;
}

function emit(tag, result) {
  process.stdout.write(`${tag} ${JSON.stringify(result)}\n`);
}

function serve(args) {
  // Die with the harness: its end of our standard input closes.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  const createServer = http.createServer;
  http.createServer = (...params) => {
    const server = createServer(...params);
    const listen = server.listen.bind(server);
    server.listen = (port) => listen(port, HOST, () => emit('PORT', server.address().port));
    return server;
  };
  const central = new OcppServer();
  central.on('connection', (client) => {
    client.on('error', () => {});
    for (const action of Object.keys(RESPONSES)) {
      const response = RESPONSES[action];
      if (args.delay > 0) {
        client.on(action, (request, cb) => setTimeout(() => cb(response), args.delay * 1000));
      } else {
        client.on(action, (request, cb) => cb(response));
      }
    }
  });
  central.listen(0);
  // ws servers send no pings unless asked: --no-ping changes nothing here.
}

function roundTrips(args) {
  const cp = new OcppClient('CP1');
  cp.on('error', (err) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
  cp.on('connect', async () => {
    let errors = 0;
    for (let i = 0; i < args.warmup; i += 1) {
      await cp.callRequest('BootNotification', BOOT_REQUEST);
    }
    const start = performance.now();
    for (let i = 0; i < args.calls; i += 1) {
      try {
        const response = await cp.callRequest('BootNotification', BOOT_REQUEST);
        if (response.status !== 'Accepted') errors += 1;
      } catch (e) {
        errors += 1;
      }
    }
    const elapsed = (performance.now() - start) / 1000;
    emit('RESULT', { calls: args.calls, elapsed, rate: args.calls / elapsed, errors });
    // ocpp-ts leaves a 10 s timer behind every CALL: leave without waiting for them.
    process.exit(0);
  });
  cp.connect(`ws://${HOST}:${args.port}/ocpp/`);
}

const args = parseArgs(process.argv.slice(2));
setTimeout(() => process.exit(3), args.lifetime * 1000).unref();
if (args.role === 'server') serve(args);
else roundTrips(args);
