// A safe unpickler: it interprets the pickle opcode stream (protocols 0-5)
// into plain JavaScript values and never runs anything named by the stream.
// A GLOBAL resolves only through an allow-list given by the caller; any other
// name is refused before it can be used. Web-standard only.
//
// Values: None -> null, bool -> boolean, int -> number (bigint beyond 2^53),
// float -> number, str -> string, bytes -> Uint8Array, list and tuple -> Array,
// dict -> Map, set and frozenset -> Set.

/** A callable the pickle may name; it receives the positional arguments. */
export type PickleCallable = (args: unknown[]) => unknown;

/** Allow-list: "module.name" -> what calling that global produces. */
export type PickleGlobals = ReadonlyMap<string, PickleCallable>;

export interface UnpickleOptions {
  globals: PickleGlobals;
  /** Resolves a persistent id (torch uses them for storages). */
  persistentLoad?: (pid: unknown) => unknown;
}

/** Attributes set by BUILD on a dict (e.g. a state dict's `_metadata`). */
export const PICKLE_ATTRS: unique symbol = Symbol("pickle attributes");

/** Thrown when a pickle names a global outside the allow-list. */
export class UnsafePickleError extends Error {
  constructor(readonly global: string, readonly file?: string) {
    super(
      `${file ? file + ": " : ""}the pickle refers to '${global}', which is not an allowed ` +
        `global; it could run arbitrary code, so the file was refused and nothing was executed. ` +
        `Load only files from sources you trust, or re-save the plain state dict in PyTorch`,
    );
    this.name = "UnsafePickleError";
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

class Reader {
  pos = 0;
  private view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number): void {
    if (n < 0 || this.pos + n > this.bytes.length) {
      throw new Error(`pickle data ends early (needs ${n} bytes at offset ${this.pos})`);
    }
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.pos++];
  }
  take(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`pickle length ${v} is too large`);
    return Number(v);
  }
  f64be(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, false);
    this.pos += 8;
    return v;
  }
  /** A text line without its newline (protocol 0 arguments). */
  line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) throw new Error(`pickle data ends inside a text line at offset ${this.pos}`);
    const s = latin1(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) {
    s += String.fromCharCode(...b.subarray(i, i + 8192));
  }
  return s;
}

/** Little-endian two's complement integer (LONG1/LONG4). */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return smallest(v);
}

function smallest(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;
}

/** Protocol 0 STRING argument: a Python repr in quotes. */
function parseQuotedString(s: string): string {
  const q = s[0];
  if ((q !== "'" && q !== '"') || s.length < 2 || s[s.length - 1] !== q) {
    throw new Error(`pickle STRING argument is not quoted: ${s.slice(0, 40)}`);
  }
  const body = s.slice(1, -1);
  const simple: Record<string, string> = {
    n: "\n",
    t: "\t",
    r: "\r",
    "\\": "\\",
    "'": "'",
    '"': '"',
  };
  return body.replace(
    /\\(x[0-9a-fA-F]{2}|.)/g,
    (_, e: string) =>
      e[0] === "x" ? String.fromCharCode(parseInt(e.slice(1), 16)) : simple[e] ?? "\\" + e,
  );
}

/** Protocol 0 UNICODE argument: raw-unicode-escape. */
function parseRawUnicode(s: string): string {
  return s.replace(
    /\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g,
    (_, u4?: string, u8?: string) => String.fromCodePoint(parseInt(u4 ?? u8!, 16)),
  );
}

/** Protocol 0 FLOAT argument: Python's repr, including inf and nan. */
function parseFloatText(s: string): number {
  const special: Record<string, number> = { inf: Infinity, "+inf": Infinity, "-inf": -Infinity };
  const lower = s.toLowerCase();
  if (lower in special) return special[lower];
  if (/^[-+]?nan$/.test(lower)) return NaN;
  const v = Number(s);
  if (s.trim() === "" || Number.isNaN(v)) throw new Error(`pickle FLOAT is not a number: ${s}`);
  return v;
}

function parseIntText(s: string): number | bigint | boolean {
  if (s === "01") return true; // protocol 0 spelling of True/False
  if (s === "00") return false;
  const t = s.endsWith("L") ? s.slice(0, -1) : s;
  if (!/^[-+]?\d+$/.test(t)) throw new Error(`pickle INT argument is not an integer: ${s}`);
  return smallest(BigInt(t));
}

/** Interprets a pickle stream; only allow-listed globals can be produced. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  const r = new Reader(bytes);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();

  const pop = () => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) {
      throw new Error(`pickle stack underflow at offset ${r.pos - 1}`);
    }
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) throw new Error(`pickle stack underflow at offset ${r.pos - 1}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) throw new Error(`pickle has no MARK before offset ${r.pos - 1}`);
    return stack.splice(m);
  };
  const findGlobal = (module: string, name: string): PickleCallable => {
    const key = `${module}.${name}`;
    const fn = options.globals.get(key);
    if (!fn) throw new UnsafePickleError(key);
    return fn;
  };
  const call = (fn: unknown, args: unknown): unknown => {
    if (typeof fn !== "function") throw new Error(`pickle calls something that is not callable`);
    if (!Array.isArray(args)) throw new Error(`pickle call arguments are not a tuple`);
    return (fn as PickleCallable)(args);
  };
  const memoGet = (i: number) => {
    if (!memo.has(i)) throw new Error(`pickle memo has no entry ${i}`);
    return memo.get(i);
  };
  const setItems = (dict: unknown, items: unknown[]) => {
    if (!(dict instanceof Map)) {
      throw new Error(`pickle SETITEM(S) on something that is not a dict`);
    }
    if (items.length % 2) throw new Error(`pickle SETITEMS with an odd number of items`);
    for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
  };
  const appendItems = (list: unknown, items: unknown[]) => {
    if (!Array.isArray(list)) throw new Error(`pickle APPEND(S) on something that is not a list`);
    // one at a time: push(...items) passes every item as an argument, and a pickle with
    // hundreds of thousands of them would overflow the call stack
    for (const item of items) list.push(item);
  };
  const persistent = (pid: unknown) => {
    if (!options.persistentLoad) {
      throw new Error(`pickle has a persistent id but none was expected`);
    }
    return options.persistentLoad(pid);
  };

  while (true) {
    const at = r.pos;
    const op = r.u8();
    switch (op) {
      case 0x80: { // PROTO
        const proto = r.u8();
        if (proto > 5) throw new Error(`pickle protocol ${proto} is newer than 5`);
        break;
      }
      case 0x95: // FRAME: framing only, the contents follow inline
        r.u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) {
          throw new Error(`pickle stops with ${stack.length} values on the stack`);
        }
        return stack[0];
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        if (stack.length && marks.length && marks[marks.length - 1] === stack.length) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      // --- constants
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x49: // INT
        stack.push(parseIntText(r.line()));
        break;
      case 0x4c: // LONG
        stack.push(parseIntText(r.line()));
        break;
      case 0x4a: // BININT
        stack.push(r.i32());
        break;
      case 0x4b: // BININT1
        stack.push(r.u8());
        break;
      case 0x4d: // BININT2
        stack.push(r.u16());
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(r.take(r.u8())));
        break;
      case 0x8b: // LONG4
        stack.push(decodeLong(r.take(r.i32())));
        break;
      case 0x46: { // FLOAT
        stack.push(parseFloatText(r.line()));
        break;
      }
      case 0x47: // BINFLOAT
        stack.push(r.f64be());
        break;
      // --- strings and bytes
      case 0x53: // STRING
        stack.push(parseQuotedString(r.line()));
        break;
      case 0x54: // BINSTRING (Python 2 str, read as latin-1)
        stack.push(latin1(r.take(r.i32())));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1(r.take(r.u8())));
        break;
      case 0x56: // UNICODE
        stack.push(parseRawUnicode(r.line()));
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8.decode(r.take(r.u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8.decode(r.take(r.u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8.decode(r.take(r.u64())));
        break;
      case 0x42: // BINBYTES
        stack.push(r.take(r.u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(r.take(r.u8()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(r.take(r.u64()).slice());
        break;
      case 0x96: // BYTEARRAY8
        stack.push(r.take(r.u64()).slice());
        break;
      case 0x97: // NEXT_BUFFER
        throw new Error(`pickle uses out-of-band buffers (protocol 5), which are not supported`);
      case 0x98: // READONLY_BUFFER: no effect on a copy
        break;
      // --- containers
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop(), a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop(), b = pop(), a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: { // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: { // DICT
        const d = new Map();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop(), k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x90: { // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) throw new Error(`pickle ADDITEMS on something that is not a set`);
        for (const v of items) s.add(v);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(new Set(popMark()));
        break;
      // --- memo
      case 0x70: // PUT
        memo.set(Number(r.line()), top());
        break;
      case 0x71: // BINPUT
        memo.set(r.u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(r.u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET
        stack.push(memoGet(Number(r.line())));
        break;
      case 0x68: // BINGET
        stack.push(memoGet(r.u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(r.u32()));
        break;
      // --- globals and calls: the only way to make objects, all via the allow-list
      case 0x63: { // GLOBAL
        const module = r.line();
        stack.push(findGlobal(module, r.line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== "string" || typeof name !== "string") {
          throw new Error(`pickle STACK_GLOBAL needs two strings`);
        }
        stack.push(findGlobal(module, name));
        break;
      }
      case 0x69: { // INST
        const module = r.line();
        const fn = findGlobal(module, r.line());
        stack.push(call(fn, popMark()));
        break;
      }
      case 0x6f: { // OBJ
        const [cls, ...args] = popMark();
        stack.push(call(cls, args));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(call(fn, args));
        break;
      }
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args));
        break;
      }
      case 0x92: { // NEWOBJ_EX: keyword arguments are not expected from torch
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(kwargs instanceof Map) || kwargs.size) {
          throw new Error(`pickle NEWOBJ_EX with keyword arguments is not supported`);
        }
        stack.push(call(cls, args));
        break;
      }
      case 0x62: { // BUILD: only dict state on a dict (OrderedDict's attributes)
        const state = pop();
        const obj = top();
        if (!(obj instanceof Map) || !(state instanceof Map)) {
          throw new Error(`pickle BUILD at offset ${at} on an unsupported object`);
        }
        (obj as Map<unknown, unknown> & { [PICKLE_ATTRS]?: Map<unknown, unknown> })[PICKLE_ATTRS] =
          state;
        break;
      }
      case 0x50: // PERSID
        stack.push(persistent(r.line()));
        break;
      case 0x51: // BINPERSID
        stack.push(persistent(pop()));
        break;
      case 0x82:
      case 0x83:
      case 0x84: // EXT1/2/4: the copyreg extension registry can name any global
        throw new Error(
          `pickle uses the extension registry (opcode 0x${op.toString(16)}), refused`,
        );
      default:
        throw new Error(`pickle has an unknown opcode 0x${op.toString(16)} at offset ${at}`);
    }
  }
}
