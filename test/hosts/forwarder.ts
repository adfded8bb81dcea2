import net from 'node:net';

/**
 * A switch over a set of TCP connections: while it is off, no byte moves in either direction
 * (both sockets are paused, so the kernel buffers fill and writers wait, as on a dead link);
 * on again, everything buffered flows, as TCP retransmits once a link is back.
 */
export interface LinkSwitch {
  readonly cut: boolean;
  setCut: (cut: boolean) => void;
  /** Registers a socket pair; it follows the switch from now on. */
  attach: (a: net.Socket, b: net.Socket) => void;
}

export function createLinkSwitch(): LinkSwitch {
  const relays = new Set<Relay>();
  let cut = false;
  return {
    get cut() {
      return cut;
    },
    setCut: (value) => {
      cut = value;
      for (const relay of relays) relay.update(cut);
    },
    attach: (a, b) => {
      const relay = relayBetween(a, b);
      relays.add(relay);
      a.once('close', () => relays.delete(relay));
      b.once('close', () => relays.delete(relay));
      relay.update(cut);
    },
  };
}

interface Relay {
  update: (cut: boolean) => void;
}

/**
 * Copies bytes both ways with back-pressure; `update(true)` stops reading from both sides
 * (what is already read is written on, as packets already on the wire arrive).
 */
function relayBetween(a: net.Socket, b: net.Socket): Relay {
  let cut = false;
  const waiting = new Set<net.Socket>();
  const flow = (s: net.Socket) => {
    if (cut || waiting.has(s)) s.pause();
    else s.resume();
  };
  const oneWay = (from: net.Socket, to: net.Socket) => {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) {
        waiting.add(from);
        flow(from);
        to.once('drain', () => {
          waiting.delete(from);
          flow(from);
        });
      }
    });
    from.on('end', () => to.end());
  };
  oneWay(a, b);
  oneWay(b, a);
  return {
    update: (value) => {
      cut = value;
      flow(a);
      flow(b);
    },
  };
}

export interface Forwarder {
  /** Where it listens. */
  address: string;
  port: number;
  /** Connections currently open through it. */
  open: () => number;
  close: () => Promise<void>;
}

/**
 * Listens on `listen.host` (port 0: any free port) and relays every connection to `target`
 * byte for byte. A connection whose other side fails is closed (the peer sees a reset only if
 * the link allows it: a paused pair stays silent). `link`, when given, can stall everything.
 */
export async function startForwarder(listen: { host: string; port?: number }, target: { host: string; port: number }, link?: LinkSwitch): Promise<Forwarder> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    (link ?? createLinkSwitch()).attach(client, upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port ?? 0, listen.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    address: listen.host,
    port,
    open: () => sockets.size,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
