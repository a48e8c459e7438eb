// The benchmark's target servers, run as their own process so the target side's CPU is not in
// the driver's event loop. Prints one JSON line `{"sink":PORT,"echo":PORT}` when both listen on
// 127.0.0.1, then serves until SIGTERM/SIGINT or until its stdin closes (the driver died).
//
// sink: the client first sends the number of bytes that follow as a u64 big-endian; the sink
//       counts them without keeping them and, once all have arrived, answers with the count it
//       saw (u64 BE) and ends. The driver's clock stops when that answer arrives.
// echo: writes back everything it reads, with backpressure.
import net from 'node:net';

const HEADER = 8;

function serveSink(socket: net.Socket): void {
  socket.setNoDelay(true);
  let header: Buffer | null = Buffer.alloc(0);
  let expected = 0;
  let counted = 0;
  let answered = false;
  socket.on('data', (chunk: Buffer) => {
    if (header !== null) {
      header = Buffer.concat([header, chunk]);
      if (header.length < HEADER) return;
      expected = Number(header.readBigUInt64BE(0));
      counted = header.length - HEADER;
      header = null;
    } else {
      counted += chunk.length;
    }
    if (counted >= expected && !answered) {
      answered = true;
      const reply = Buffer.allocUnsafe(HEADER);
      reply.writeBigUInt64BE(BigInt(counted), 0);
      socket.end(reply);
    }
  });
  socket.on('error', () => socket.destroy());
}

function serveEcho(socket: net.Socket): void {
  socket.setNoDelay(true);
  socket.pipe(socket);
  socket.on('error', () => socket.destroy());
}

function listen(handler: (socket: net.Socket) => void): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    // A deep backlog: 500 connections arrive at once in the concurrency run.
    const server = net.createServer(handler);
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: 1024 }, () => resolve(server));
  });
}

function portOf(server: net.Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  return address.port;
}

const sink = await listen(serveSink);
const echo = await listen(serveEcho);
process.stdout.write(`${JSON.stringify({ sink: portOf(sink), echo: portOf(echo) })}\n`);

const stop = (): void => {
  sink.close();
  echo.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
