#!/usr/bin/env node
// A third-party Flume Avro RPC peer for the end-to-end tests: avsc's
// stateful channels over TCP, which speak the Netty framing of Java's
// NettyTransceiver and NettyServer (avsc's lib/services.js, NettyEncoder
// and NettyDecoder), with Flume's AvroSourceProtocol.
//
//   avro_peer.js client PORT N BATCH [--plain-protocol] [--deflate]
//       [--single] [--prefix P] [--give-up-after-failed K] [--pipeline]
//     (K: calls answered FAILED or failed with an error, then exit 3);
//     --pipeline sends every call at once on the connection.
//     sends N events (bodies P0..P(N-1), header seq) in appendBatch calls
//     of BATCH (append calls with --single); a call answered FAILED, with
//     an error or not at all is sent again after a pause, as Flume's
//     clients roll back and resend. Prints one JSON line: events answered
//     OK, calls answered FAILED, errors, and every handshake's match.
//   avro_peer.js server PORT OUT [--fail-every K] [--drop-every J]
//       [--deflate] [--plain-protocol]
//     a Flume AvroSource stand-in: appends each received event's body to
//     OUT once its call is answered OK; answers every K-th call FAILED
//     (none written) and at every J-th call writes the events and cuts the
//     connection instead of answering (the sender sends them again). Prints
//     "listening PORT" once it listens, and counts on SIGTERM.
'use strict';
const avro = require(require('path').join(__dirname, '../e2e/node_modules/avsc'));
const net = require('net');
const fs = require('fs');
const zlib = require('zlib');

// Flume's AvroSourceProtocol exactly as Java's Protocol.toString() writes it
// for Flume 1.11: avsc hashes JSON.stringify of this object, so it sends
// Flume's own hash. --plain-protocol drops the doc: another hash, the same
// protocol (the server answers NONE, avsc sends its text).
const FLUME = JSON.parse(fs.readFileSync(require('path').join(__dirname,
  'flume_protocol.json'), 'utf8'));
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const ptcl = JSON.parse(JSON.stringify(FLUME));
if (flag('--plain-protocol')) delete ptcl.doc;
const svc = avro.Service.forProtocol(ptcl);

// A transport: the socket itself, or zlib streams around it (Netty's
// JZlibEncoder/Decoder: the ZLIB wrapper, a sync flush per write).
function transport(socket) {
  if (!flag('--deflate')) return socket;
  const inflate = zlib.createInflate();
  const deflate = zlib.createDeflate({flush: zlib.constants.Z_SYNC_FLUSH});
  socket.pipe(inflate);
  deflate.pipe(socket);
  inflate.on('error', (e) => socket.destroy(e));
  return {readable: inflate, writable: deflate};
}

if (args[0] === 'client') {
  const port = +args[1], total = +args[2], size = +args[3];
  const prefix = opt('--prefix', 'e');
  const giveUp = +opt('--give-up-after-failed', '0');
  const out = {ok_events: 0, failed_calls: 0, errors: 0, matches: []};
  let next = 0, channel = null, client = null;
  const done = (code) => {
    console.log(JSON.stringify(out));
    process.exit(code);
  };
  function connect() {
    // Java's NettyTransceiver (Flume's NettyAvroRpcClient) sets
    // TCP_NODELAY; Node's sockets do not by default.
    const socket = net.connect({port, host: '127.0.0.1', noDelay: true});
    socket.on('error', () => {});
    client = svc.createClient({strictTypes: true});
    channel = client.createChannel(transport(socket));
    channel.on('handshake', (hreq, hres) => out.matches.push(hres.match));
    channel.on('eot', () => { channel = null; });
  }
  function send() {
    if (next >= total) return done(0);
    if (!channel) connect();
    const n = Math.min(size, total - next);
    const events = [];
    for (let i = 0; i < n; i++)
      events.push({headers: {seq: String(next + i)},
                   body: Buffer.from(prefix + (next + i))});
    const cb = (err, status) => {
      if (!err && status === 'OK') {
        out.ok_events += n;
        next += n;
        return setImmediate(send);
      }
      if (err) out.errors++;
      else out.failed_calls++;
      if (giveUp && out.failed_calls + out.errors >= giveUp) return done(3);
      if (err && channel) channel.destroy(true);
      setTimeout(send, 200); // rolled back: the same events again
    };
    const opts = {timeout: 30000};
    if (flag('--single')) {
      if (n !== 1) throw new Error('--single needs BATCH 1');
      client.emitMessage('append', {event: events[0]}, opts, cb);
    } else {
      client.emitMessage('appendBatch', {events}, opts, cb);
    }
  }
  if (flag('--pipeline')) {
    // Every call at once on one connection, answers matched by serial.
    connect();
    channel.setMaxListeners(0);
    let answered = 0;
    for (let b = 0; b * size < total; b++) {
      const n = Math.min(size, total - b * size);
      const events = [];
      for (let i = 0; i < n; i++)
        events.push({headers: {seq: String(b * size + i)},
                     body: Buffer.from(prefix + (b * size + i))});
      client.emitMessage('appendBatch', {events}, {timeout: 30000},
                         (err, status) => {
        if (!err && status === 'OK') out.ok_events += n;
        else if (err) out.errors++;
        else out.failed_calls++;
        if (++answered * size >= total) done(0);
      });
    }
  } else {
    send();
  }
} else if (args[0] === 'server') {
  const port = +args[1], file = args[2];
  const failEvery = +opt('--fail-every', '0');
  const dropEvery = +opt('--drop-every', '0');
  const counts = {calls: 0, ok: 0, failed: 0, dropped: 0, events: 0, handshakes: []};
  const out = fs.openSync(file, 'a');
  const server = svc.createServer({silent: true});
  const handle = (events, ctx, cb) => {
    counts.calls++;
    if (dropEvery && counts.calls % dropEvery === 0) {
      // Taken, then the connection cut before the answer: the sender
      // cannot know, sends them again (duplicates, counted by the test).
      for (const e of events) fs.writeSync(out, e.body.toString() + '\n');
      counts.dropped++;
      counts.events += events.length;
      ctx.channel.destroy(true);
      return;
    }
    if (failEvery && counts.calls % failEvery === 0) {
      counts.failed++;
      return cb(null, 'FAILED');
    }
    for (const e of events) fs.writeSync(out, e.body.toString() + '\n');
    counts.ok++;
    counts.events += events.length;
    cb(null, 'OK');
  };
  server.onAppendBatch(function (events, cb) { handle(events, this, cb); });
  server.onAppend(function (event, cb) { handle([event], this, cb); });
  const listener = net.createServer((socket) => {
    socket.setNoDelay(true); // as Avro's NettyServer (childOption TCP_NODELAY)
    socket.on('error', () => {});
    const ch = server.createChannel(transport(socket));
    ch.on('handshake', (hreq, hres) => counts.handshakes.push(hres.match));
    ch.on('eot', () => socket.destroy());
  });
  listener.listen(port, '127.0.0.1', () =>
    console.log('listening ' + listener.address().port));
  process.on('SIGTERM', () => {
    console.log(JSON.stringify(counts));
    process.exit(0);
  });
} else {
  console.error('usage: avro_peer.js client|server ...');
  process.exit(2);
}
