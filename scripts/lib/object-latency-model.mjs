// The latency model of `npm run bench:global`, and nothing else: a Durable Object namespace as
// Miniflare's `wrappedBindings` gives it to a worker that stands for one region, when the objects
// are placed with their organization's data. The objects themselves run in one other worker that
// stands for the data's region (its D1 trips are priced from there); every call a region's worker
// makes to one of them (a fetch, an RPC method) first waits HOP_MS, the round trip between the two
// regions. Inner bindings: the real namespace (NAME), HOP_MS.

const wait = (ms) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

/** A stub whose every call crosses the hop first; its plain properties (id, name) are the stub's. */
function distant(stub, hop) {
  return new Proxy(stub, {
    get(target, key) {
      if (key === 'then') return undefined; // not a thenable: awaiting the stub gives the stub
      if (key === 'id' || key === 'name' || typeof key === 'symbol') return Reflect.get(target, key);
      return async (...args) => {
        await wait(hop);
        return target[key](...args);
      };
    },
  });
}

export default function modelledObjects(env) {
  const namespace = env[env.NAME];
  const hop = Number(env.HOP_MS);
  return {
    idFromName: (name) => namespace.idFromName(name),
    idFromString: (id) => namespace.idFromString(id),
    newUniqueId: (options) => namespace.newUniqueId(options),
    get: (id, options) => distant(namespace.get(id, options), hop),
  };
}
