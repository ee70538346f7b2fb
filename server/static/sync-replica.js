// A receiver's copy of a server-run match's synced state (issue 16): the decoder of
// server/games/sync/replica.py, as an ES module with no dependencies. The wire forms are
// described in server/games/sync/codec.py; JSON and msgpack sockets carry the same
// nested arrays, so this decodes what either one delivered.
//
//   const replica = new Replica();
//   replica.onChange(({ tick, keyframe }) => draw(replica.state));
//   // match.state {tick, full, schema}: a keyframe; {tick, base, patch}: a patch
//   try {
//     if ("full" in push) replica.keyframe(push.tick, push.full, push.schema);
//     else replica.apply(push.tick, push.base, push.patch);
//   } catch (err) {
//     if (err instanceof NeedKeyframe) socket.request("match.sync", { match_id });
//   }
//
// The state is plain: an object for a Schema (its field names), an object for a map (an
// int key reads as its decimal string, as any JavaScript object key), an array for a
// list. Objects have no prototype, so a key such as "__proto__" is a key like any other.
// A patch on another base than the tick held, or naming a container the replica does not
// hold, throws NeedKeyframe before changing anything: ask for a keyframe then.

export const MAP = -1;
export const LIST = -2;

export class NeedKeyframe extends Error {
  constructor(message) {
    super(message);
    this.name = "NeedKeyframe";
  }
}

const plainObject = () => Object.create(null);

export class Replica {
  constructor() {
    this.tick = null; // the tick of the last keyframe or patch applied; null before any
    this.state = null;
    this._refs = new Map(); // ref -> [kind, the plain container]
    this._types = new Map(); // type index -> [name, [field, ...]]
    this._listeners = new Set();
  }

  // Called after each keyframe and patch applied, with {tick, keyframe, refs} (refs: the
  // containers the patch touched; every one for a keyframe). Returns the unsubscribe.
  onChange(callback) {
    this._listeners.add(callback);
    return () => this._listeners.delete(callback);
  }

  keyframe(tick, full, schema) {
    if (!Array.isArray(full) || !Array.isArray(schema)) {
      throw new NeedKeyframe("a malformed keyframe");
    }
    this._refs = new Map();
    this._types = new Map();
    schema.forEach((type, i) => {
      if (!Array.isArray(type) || !Array.isArray(type[1])) {
        throw new NeedKeyframe("a malformed schema");
      }
      this._types.set(i, [String(type[0]), type[1].slice()]);
    });
    this.tick = null; // until it is whole: a failed keyframe leaves nothing to patch
    try {
      this.state = this._build(full);
    } catch (err) {
      throw err instanceof NeedKeyframe ? err : new NeedKeyframe(`a malformed keyframe (${err})`);
    }
    this.tick = tick;
    this._changed({ tick, keyframe: true, refs: new Set(this._refs.keys()) });
  }

  apply(tick, base, patch) {
    if (this.tick === null || base !== this.tick) {
      throw new NeedKeyframe(`patch on tick ${base}, replica at ${this.tick}`);
    }
    if (!Array.isArray(patch)) throw new NeedKeyframe("a malformed patch");
    for (const op of patch) {
      // Checked first: a bad patch changes nothing.
      if (!Array.isArray(op) || !Number.isInteger(op[0])) throw new NeedKeyframe("a malformed op");
      const ref = op[0];
      if (ref !== 0 && !this._refs.has(Math.abs(ref))) {
        throw new NeedKeyframe(`unknown container ${Math.abs(ref)}`);
      }
    }
    const refs = new Set();
    try {
      for (const op of patch) {
        this._apply(op);
        if (op[0] !== 0) refs.add(Math.abs(op[0]));
      }
    } catch (err) {
      this.tick = null; // half applied: only a keyframe makes it whole again
      throw err instanceof NeedKeyframe ? err : new NeedKeyframe(`a malformed patch (${err})`);
    }
    this.tick = tick;
    this._changed({ tick, keyframe: false, refs });
  }

  _changed(change) {
    for (const callback of this._listeners) callback(change);
  }

  _apply(op) {
    const ref = op[0];
    if (ref === 0) {
      // A new object type, before its first use: [0, type, name, [field, ...]].
      this._types.set(op[1], [String(op[2]), op[3].slice()]);
      return;
    }
    const [kind, target] = this._refs.get(Math.abs(ref));
    if (ref < 0) {
      // A map's deleted keys.
      for (const key of op.slice(1)) delete target[key];
    } else if (kind === MAP) {
      for (let i = 1; i < op.length; i += 2) target[op[i]] = this._value(op[i + 1]);
    } else if (kind === LIST) {
      target.length = Math.min(target.length, op[1]);
      while (target.length < op[1]) target.push(null);
      for (let i = 2; i < op.length; i += 2) target[op[i]] = this._value(op[i + 1]);
    } else {
      const fields = this._types.get(kind)[1];
      for (let i = 1; i < op.length; i += 2) {
        const field = op[i];
        if (field < 0) {
          // A run: fields -1 - field, -field, ... take the values to the op's end.
          const first = -1 - field;
          for (let j = i + 1; j < op.length; j++) {
            target[fields[first + j - i - 1]] = this._value(op[j]);
          }
          break;
        }
        target[fields[field]] = this._value(op[i + 1]);
      }
    }
  }

  _value(value) {
    return Array.isArray(value) ? this._build(value) : value;
  }

  _build(whole) {
    const [ref, kind] = whole;
    let built;
    if (kind === MAP) {
      built = plainObject();
      for (let i = 2; i < whole.length; i += 2) built[whole[i]] = this._value(whole[i + 1]);
    } else if (kind === LIST) {
      built = whole.slice(2).map((v) => this._value(v));
    } else {
      const type = this._types.get(kind);
      if (type === undefined) throw new NeedKeyframe(`unknown type ${kind}`);
      const fields = type[1];
      if (whole.length - 2 !== fields.length) throw new NeedKeyframe(`type ${kind}: wrong width`);
      built = plainObject();
      fields.forEach((name, i) => {
        built[name] = this._value(whole[i + 2]);
      });
    }
    this._refs.set(ref, [kind, built]);
    return built;
  }
}
