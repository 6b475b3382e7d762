// The second JavaScript peer: ocpp-rpc (npm), in strict mode (its OCPP 1.6 schemas validate
// calls and responses), on both ends, under the harness's contract (see bench/benchlib.py):
// `server` prints "PORT <n>" and serves until its standard input closes;
// `client --port P --calls N --warmup W` prints one "RESULT {json}" line.
'use strict';

const { performance } = require('perf_hooks');
const { RPCServer, RPCClient } = require('ocpp-rpc');

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

async function serve(args) {
  // Die with the harness: its end of our standard input closes.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  const options = { protocols: ['ocpp1.6'], strictMode: true };
  // Its default keepalive pings every 30 s; --no-ping turns it off, as for the others.
  if (args.noPing) options.pingIntervalMs = 0;
  const central = new RPCServer(options);
  central.on('client', (client) => {
    client.on('error', () => {});
    for (const action of Object.keys(RESPONSES)) {
      const response = RESPONSES[action];
      if (args.delay > 0) {
        client.handle(
          action,
          () => new Promise((resolve) => setTimeout(() => resolve(response), args.delay * 1000)),
        );
      } else {
        client.handle(action, () => response);
      }
    }
  });
  const httpServer = await central.listen(0, HOST);
  emit('PORT', httpServer.address().port);
}

async function roundTrips(args) {
  const cp = new RPCClient({
    endpoint: `ws://${HOST}:${args.port}/ocpp`,
    identity: 'CP1',
    protocols: ['ocpp1.6'],
    strictMode: true,
    reconnect: false,
  });
  await cp.connect();
  let errors = 0;
  for (let i = 0; i < args.warmup; i += 1) {
    await cp.call('BootNotification', BOOT_REQUEST);
  }
  const start = performance.now();
  for (let i = 0; i < args.calls; i += 1) {
    try {
      const response = await cp.call('BootNotification', BOOT_REQUEST);
      if (response.status !== 'Accepted') errors += 1;
    } catch (e) {
      errors += 1;
    }
  }
  const elapsed = (performance.now() - start) / 1000;
  emit('RESULT', { calls: args.calls, elapsed, rate: args.calls / elapsed, errors });
  process.exit(0);
}

const args = parseArgs(process.argv.slice(2));
setTimeout(() => process.exit(3), args.lifetime * 1000).unref();
const main = args.role === 'server' ? serve : roundTrips;
main(args).catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
